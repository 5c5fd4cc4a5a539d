// The API client: every request carries the key in the X-API-Key header (never in a URL), and every
// failure becomes an ApiError whose message is the API's own {"error": {"code", "message"}}.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STORE_NAME = "kinematics-api-key";

// sessionStorage by default (gone when the tab closes); localStorage only when "remember" is ticked.
export const keyStore = {
  get() {
    return sessionStorage.getItem(STORE_NAME) ?? localStorage.getItem(STORE_NAME) ?? "";
  },
  remembered() {
    return localStorage.getItem(STORE_NAME) !== null;
  },
  set(key, remember) {
    sessionStorage.setItem(STORE_NAME, key);
    if (remember) localStorage.setItem(STORE_NAME, key);
    else localStorage.removeItem(STORE_NAME);
  },
  clear() {
    sessionStorage.removeItem(STORE_NAME);
    localStorage.removeItem(STORE_NAME);
  },
};

function headers(key) {
  return key ? { "X-API-Key": key } : {};
}

async function errorFrom(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) {
      return new ApiError(response.status, body.error.code, body.error.message);
    }
  } catch {
    // not JSON: fall through to a generic message
  }
  return new ApiError(response.status, "http_" + response.status, `the server answered ${response.status}`);
}

async function send(key, path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { ...headers(key), ...(init.headers || {}) } });
  } catch {
    throw new ApiError(0, "network", "cannot reach the server; check your connection");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function getJson(key, path) {
  return (await send(key, path)).json();
}

export async function getText(key, path) {
  return (await send(key, path)).text();
}

export async function getBlob(key, path) {
  return (await send(key, path)).blob();
}

export async function deleteJob(key, id) {
  const r = await send(key, `/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
  return r.status === 204 ? null : r.json();
}

// POST /jobs with upload progress (fetch has none): onProgress(fraction) while bytes go out.
export function submitJob(key, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/jobs");
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status === 202 && body && body.id) resolve(body);
      else if (body && body.error) reject(new ApiError(xhr.status, body.error.code, body.error.message));
      else reject(new ApiError(xhr.status, "http_" + xhr.status, `the server answered ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload failed: cannot reach the server"));
    xhr.send(formData);
  });
}

// Save a blob under a file name (results need the key header, so they are fetched, not linked).
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
