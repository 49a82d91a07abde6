// GAZE page helpers: CSRF for AJAX, flash messages, the default-checkpoint
// selector, the shared delete dialog, confirmations and the lightbox.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.GAZE = window.GAZE || {};
  GAZE.csrfToken = meta ? meta.content : "";

  // Every state-changing fetch sends the CSRF token and says it is AJAX.
  GAZE.fetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRFToken": GAZE.csrfToken, "X-Requested-With": "XMLHttpRequest"},
                                    options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  };

  GAZE.flash = function (message, level) {
    const area = document.getElementById("flash-area");
    if (!area) return;
    const div = document.createElement("div");
    div.className = "alert alert-" + (level || "info") + " alert-dismissible fade show";
    div.setAttribute("role", "alert");
    div.textContent = message;
    const close = document.createElement("button");
    close.type = "button"; close.className = "btn-close"; close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    div.appendChild(close);
    area.appendChild(div);
  };

  // Navbar: the default checkpoint is saved as soon as it is chosen.
  const picker = document.getElementById("default-checkpoint");
  if (picker) {
    picker.addEventListener("change", function () {
      const body = new FormData(picker.form);
      GAZE.fetch(picker.form.action, {method: "POST", body: body})
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!res[0]) { GAZE.flash(res[1].error || "Could not set the checkpoint.", "danger"); return; }
          picker.dataset.saved = picker.value;
          document.querySelectorAll('select[name="checkpoint"]:not(#default-checkpoint)').forEach(function (s) {
            if ([...s.options].some(function (o) { return o.value === picker.value; })) s.value = picker.value;
          });
        })
        .catch(function () { GAZE.flash("Could not reach GAZE.", "danger"); });
    });
  }

  // GET filter forms that refresh on change.
  document.querySelectorAll("[data-autosubmit-get]").forEach(function (el) {
    el.addEventListener("change", function () {
      const entry = el.form.querySelector('[name="entry"]');
      if (entry) entry.value = "";
      el.form.submit();
    });
  });

  // Forms that ask before they act.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });

  // The shared delete dialog.
  const delModal = document.getElementById("delete-modal");
  if (delModal && window.bootstrap) {
    const modal = bootstrap.Modal.getOrCreateInstance(delModal);
    document.querySelectorAll("[data-delete-url]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        const form = document.getElementById("delete-form");
        form.action = btn.dataset.deleteUrl;
        delModal.querySelector('[data-slot="name"]').textContent = btn.dataset.deleteName || "";
        const lora = btn.dataset.deleteLora || "";
        delModal.querySelector('[data-slot="lora"]').textContent = lora;
        const hard = delModal.querySelector('[data-slot="hard-option"]');
        hard.hidden = !lora || btn.dataset.noHard === "1";
        document.getElementById("delete-soft").checked = true;
        modal.show();
      });
    });
  }

  // Lightbox: links with data-lightbox open the full image; arrows step through the group.
  const box = document.getElementById("lightbox");
  if (box && window.bootstrap) {
    const modal = bootstrap.Modal.getOrCreateInstance(box);
    const img = document.getElementById("lightbox-img");
    let group = [], index = 0;
    function show(i) {
      if (!group.length) return;
      index = (i + group.length) % group.length;
      const link = group[index];
      img.src = link.href;
      img.alt = link.dataset.caption || "";
      box.querySelector('[data-slot="caption"]').textContent = link.dataset.caption || "";
      box.querySelector('[data-slot="open"]').href = link.href;
      const remake = box.querySelector('[data-slot="remake"]');
      if (remake) {
        remake.hidden = !link.dataset.remake;
        remake.href = link.dataset.remake || "#";
      }
      box.querySelectorAll(".lightbox-nav").forEach(function (b) { b.hidden = group.length < 2; });
    }
    document.addEventListener("click", function (ev) {
      const link = ev.target.closest("a[data-lightbox]");
      if (!link || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
      ev.preventDefault();
      group = Array.from(document.querySelectorAll('a[data-lightbox="' + link.dataset.lightbox + '"]'));
      show(group.indexOf(link));
      modal.show();
    });
    box.querySelectorAll(".lightbox-nav").forEach(function (b) {
      b.addEventListener("click", function () { show(index + Number(b.dataset.step)); });
    });
    document.addEventListener("keydown", function (ev) {
      if (!box.classList.contains("show")) return;
      if (ev.key === "ArrowLeft") show(index - 1);
      if (ev.key === "ArrowRight") show(index + 1);
    });
  }
})();

// Navbar: ComfyUI status and the queue badge, refreshed every few seconds.
(function () {
  "use strict";
  const COLOURS = ["text-bg-secondary", "text-bg-success", "text-bg-danger", "text-bg-warning"];
  function colour(el, name) {  // only the colour changes: layout classes stay
    COLOURS.forEach(function (c) { el.classList.toggle(c, c === name); });
  }
  function refresh() {
    const status = document.getElementById("comfy-status");
    const badge = document.getElementById("queue-count");
    if (!status && !badge) return;
    fetch("/api/status", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (status) {
          const up = s.servers.filter(function (x) { return x.online; }).length;
          colour(status, up ? "text-bg-success" : "text-bg-danger");
          status.textContent = up ? ("ComfyUI " + up + "/" + s.servers.length) : "ComfyUI offline";
          const missing = [];
          s.servers.forEach(function (x) { (x.missing || []).forEach(function (m) { if (missing.indexOf(m) < 0) missing.push(m); }); });
          status.title = s.servers.map(function (x) { return x.url + ": " + (x.online ? "online" : "offline"); }).join("\n")
            + (missing.length ? "\nMissing optional nodes: " + missing.join(", ") + " (images are made without the face/hand pass)" : "");
          if (missing.length && up) colour(status, "text-bg-warning");
        }
        if (badge) {
          const n = s.jobs.pending + s.jobs.running;
          badge.textContent = String(n);
          badge.hidden = n === 0;
        }
      })
      .catch(function () { if (status) { colour(status, "text-bg-secondary"); status.textContent = "ComfyUI ?"; } });
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    setInterval(refresh, 5000);
  });
})();
