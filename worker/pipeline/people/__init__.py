"""Who is the subject: the people each view shows, matched across views."""
