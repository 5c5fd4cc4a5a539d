// Small DOM helpers and the page's message areas (status line, alert box).
import { ApiError } from "./api.js";

export const $ = (id) => document.getElementById(id);

export function say(text) {
  $("status").textContent = text;
}

export function showError(err, prefix = "") {
  const message = err instanceof ApiError ? err.message : "something went wrong in the page";
  if (!(err instanceof ApiError)) console.error(err);
  $("alert").textContent = prefix + message;
  $("alert").hidden = false;
}

export function clearError() {
  $("alert").hidden = true;
  $("alert").textContent = "";
}

export const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);
export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}
