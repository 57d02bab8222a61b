// login.js: keeps the pasted token in a cookie scoped to the dashboard and
// reloads; the host checks it on every request (no data reaches this page).
"use strict";
document.getElementById("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = document.getElementById("token").value.trim();
  const path = location.pathname.replace(/[^/]*$/, "");
  document.cookie = "sighost_token=" + encodeURIComponent(token) +
    "; path=" + path + "; SameSite=Strict";
  location.replace(path);
});
