// GAZE page helpers: CSRF for AJAX. Every state-changing fetch sends the token.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.GAZE = window.GAZE || {};
  GAZE.csrfToken = meta ? meta.content : "";
  GAZE.fetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": GAZE.csrfToken, "X-Requested-With": "XMLHttpRequest"},
                                    options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };
})();

// Navbar: ComfyUI status and the queue badge, refreshed every few seconds.
(function () {
  "use strict";
  function refresh() {
    const status = document.getElementById("comfy-status");
    const badge = document.getElementById("queue-count");
    if (!status && !badge) return;
    fetch("/api/status", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (status) {
          const up = s.servers.filter(function (x) { return x.online; }).length;
          status.className = "badge " + (up ? "text-bg-success" : "text-bg-danger");
          status.textContent = up ? ("ComfyUI " + up + "/" + s.servers.length) : "ComfyUI offline";
          const missing = [];
          s.servers.forEach(function (x) { (x.missing || []).forEach(function (m) { if (missing.indexOf(m) < 0) missing.push(m); }); });
          status.title = s.servers.map(function (x) { return x.url + ": " + (x.online ? "online" : "offline"); }).join("\n")
            + (missing.length ? "\nMissing optional nodes: " + missing.join(", ") + " (images are made without the face/hand pass)" : "");
          if (missing.length && up) status.className = "badge text-bg-warning";
        }
        if (badge) {
          const n = s.jobs.pending + s.jobs.running;
          badge.textContent = String(n);
          badge.hidden = n === 0;
        }
      })
      .catch(function () { if (status) { status.className = "badge text-bg-secondary"; status.textContent = "ComfyUI ?"; } });
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    setInterval(refresh, 5000);
  });
})();
