// Generate buttons: submit over AJAX, then follow the job through GAZE's own
// status API (the browser never talks to ComfyUI) until the image is ready.
(function () {
  "use strict";
  const POLL_MS = 1500;

  function el(root, sel) { return root.querySelector(sel); }

  function renderProgress(box, state) {
    const bar = el(box, ".progress-bar");
    const label = el(box, "[data-job-label]");
    const p = state.progress || {};
    let pct = 0;
    let text = state.status;
    if (state.status === "pending") {
      text = state.note ? "Queued — " + state.note : "Queued";
      pct = 5;
    } else if (state.status === "running") {
      if (p.max) {
        pct = Math.max(5, Math.round(100 * (p.value || 0) / p.max));
        text = "Step " + (p.value || 0) + " / " + p.max;
      } else {
        pct = 10;
        text = "Running";
      }
      if (p.node) text += " · node " + p.node;
    } else if (state.status === "done") {
      pct = 100; text = "Done";
    }
    if (bar) {
      bar.style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      bar.classList.toggle("bg-danger", state.status === "failed");
      bar.classList.toggle("progress-bar-animated", state.status === "pending" || state.status === "running");
    }
    if (label) label.textContent = text;
  }

  function showResult(box, state) {
    const result = el(box, "[data-job-result]");
    if (!result) return;
    result.innerHTML = "";
    if (state.status === "done" && state.result) {
      (state.warnings || []).forEach(function (w) {
        const note = document.createElement("div");
        note.className = "small text-warning mb-1";
        note.textContent = "Made without: " + w;
        result.appendChild(note);
      });
      const link = document.createElement("a");
      link.href = state.result.image_url;
      link.target = "_blank";
      const img = document.createElement("img");
      img.src = state.result.image_url;
      img.alt = "Generated image";
      img.className = "img-fluid rounded generated-image";
      link.appendChild(img);
      result.appendChild(link);
      box.dispatchEvent(new CustomEvent("gaze:job-done", {bubbles: true, detail: state}));
    } else if (state.status === "failed" || state.status === "removed") {
      const alert = document.createElement("div");
      alert.className = "alert alert-danger mb-0";
      alert.setAttribute("role", "alert");
      alert.textContent = state.status === "removed" ? "Cancelled." : ("Failed: " + (state.error || "unknown error"));
      result.appendChild(alert);
    }
  }

  GAZE.followJob = function (jobId, box) {
    box.hidden = false;
    box.dataset.jobId = jobId;
    const cancel = el(box, "[data-job-cancel]");
    if (cancel) {
      cancel.hidden = false;
      cancel.onclick = function () {
        GAZE.fetch("/api/queue/" + encodeURIComponent(jobId) + "/cancel",
                   {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
      };
    }
    function poll() {
      if (box.dataset.jobId !== jobId) return;  // a newer job replaced this one
      fetch("/api/queue/" + encodeURIComponent(jobId) + "/status", {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (state) {
          renderProgress(box, state);
          if (["done", "failed", "removed"].indexOf(state.status) >= 0) {
            if (cancel) cancel.hidden = true;
            showResult(box, state);
          } else {
            setTimeout(poll, POLL_MS);
          }
        })
        .catch(function () { setTimeout(poll, POLL_MS * 2); });
    }
    poll();
  };

  function bind(form) {
    const box = document.querySelector(form.dataset.progress || "#job-progress");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      GAZE.fetch(form.getAttribute("action"), {method: "POST", body: new FormData(form)})
        .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
        .then(function (res) {
          if (!res.ok) throw new Error(res.body.error || "could not queue the job");
          (form.dataset.results ? GAZE.addResultSlot(form, res.body) : [res.body.job_id]).forEach(function (id) {
            if (box) GAZE.followJob(id, box);
          });
        })
        .catch(function (err) {
          if (box) {
            box.hidden = false;
            showResult(box, {status: "failed", error: err.message});
          }
        })
        .finally(function () { if (button) button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-generate]").forEach(bind);
    document.querySelectorAll("[data-job-progress][data-job-id]").forEach(function (box) {
      if (box.dataset.jobId) GAZE.followJob(box.dataset.jobId, box);
    });
  });
})();

// Detail pages: once a preview is done, offer "replace cover from preview".
document.addEventListener("gaze:job-done", function (event) {
  "use strict";
  const box = event.target;
  const form = box.querySelector("[data-replace-cover]");
  if (form && event.detail && event.detail.result) {
    const id = document.createElement("input");
    id.type = "hidden";
    id.name = "job_id";
    id.value = event.detail.id;
    form.querySelectorAll("input[name=job_id]").forEach(function (old) { old.remove(); });
    form.appendChild(id);
    form.hidden = false;
  }
});
