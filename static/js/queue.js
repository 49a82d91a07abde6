// The queue page: every job with progress, cancel and retry; refreshed every 2 s.
(function () {
  "use strict";
  const body = document.querySelector("#queue-table tbody");
  const summary = document.getElementById("queue-summary");

  function post(url) {
    return GAZE.fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
      .then(function () { refresh(); });
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  function row(job) {
    const tr = document.createElement("tr");
    tr.dataset.jobId = job.id;
    tr.dataset.status = job.status;
    const label = cell();
    if (job.result && job.result.image_url) {
      const a = document.createElement("a");
      a.href = job.result.image_url;
      a.target = "_blank";
      a.textContent = job.label || job.id;
      label.appendChild(a);
    } else {
      label.textContent = job.label || job.id;
    }
    tr.appendChild(label);
    const status = cell(job.status + (job.note ? " (" + job.note + ")" : ""));
    if (job.error) status.title = job.error;
    if (job.result && job.result.summary) {
      const sum = document.createElement("div");
      sum.className = "small text-secondary";
      sum.dataset.slot = "summary";
      sum.textContent = job.result.summary;
      status.appendChild(sum);
    }
    if (job.status === "failed") {
      const err = document.createElement("div");
      err.className = "small text-danger";
      err.textContent = job.error || "";
      status.appendChild(err);
    }
    tr.appendChild(status);
    const prog = cell();
    const p = job.progress || {};
    if (job.status === "running" || (job.status === "pending" && job.kind === "bulk_create" && p.max)) {
      const pct = p.max ? Math.round(100 * (p.value || 0) / p.max) : 10;
      const bar = document.createElement("div");
      bar.className = "progress";
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", "Progress");
      const inner = document.createElement("div");
      inner.className = "progress-bar progress-bar-striped progress-bar-animated";
      inner.style.width = pct + "%";
      inner.textContent = p.max ? (p.value + "/" + p.max) : "";
      if (job.kind === "bulk_create" && p.node) {
        const file = document.createElement("div");
        file.className = "small text-secondary text-truncate";
        file.textContent = p.node;
        prog.appendChild(file);
      }
      bar.appendChild(inner);
      prog.appendChild(bar);
    }
    tr.appendChild(prog);
    tr.appendChild(cell(job.server || "", "small text-secondary"));
    const actions = cell();
    if (job.status === "pending" || job.status === "running") {
      const b = document.createElement("button");
      b.className = "btn btn-sm btn-outline-danger";
      b.type = "button";
      b.textContent = "Cancel";
      b.dataset.action = "cancel";
      b.onclick = function () { post("/api/queue/" + encodeURIComponent(job.id) + "/cancel"); };
      actions.appendChild(b);
    } else if (job.status === "failed" || job.status === "removed") {
      const b = document.createElement("button");
      b.className = "btn btn-sm btn-outline-secondary";
      b.type = "button";
      b.textContent = "Retry";
      b.dataset.action = "retry";
      b.onclick = function () { post("/api/queue/" + encodeURIComponent(job.id) + "/retry"); };
      actions.appendChild(b);
    }
    tr.appendChild(actions);
    return tr;
  }

  function refresh() {
    fetch("/api/queue", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        body.innerHTML = "";
        if (!data.jobs.length) {
          const tr = document.createElement("tr");
          const td = cell("No jobs yet.", "text-secondary");
          td.colSpan = 5;
          tr.appendChild(td);
          body.appendChild(tr);
        }
        data.jobs.forEach(function (j) { body.appendChild(row(j)); });
        summary.textContent = data.pending + " pending, " + data.running + " running";
      });
  }

  document.getElementById("cancel-pending").addEventListener("click", function () {
    post("/api/queue/cancel_pending");
  });
  refresh();
  setInterval(refresh, 2000);
})();
