// The generator page: search inside the multi-selects, counts, and a strip of
// results that fill in as each job of a batch finishes.
(function () {
  "use strict";
  const POLL_MS = 1500;

  GAZE.addResultSlot = function (form, body) {
    const strip = document.querySelector(form.dataset.results);
    const ids = body.job_ids || [body.job_id];
    ids.forEach(function (id) {
      const slot = document.createElement("div");
      slot.className = "result-slot border rounded d-flex align-items-center justify-content-center";
      slot.dataset.jobId = id;
      slot.textContent = "queued";
      strip.prepend(slot);
      followSlot(slot, id);
    });
    return [];  // the strip shows each job; the single progress bar is not used for batches
  };

  function followSlot(slot, id) {
    fetch("/api/queue/" + encodeURIComponent(id) + "/status", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.status === "done" && s.result) {
          slot.textContent = "";
          const a = document.createElement("a");
          a.href = s.result.image_url;
          a.target = "_blank";
          const img = document.createElement("img");
          img.src = s.result.image_url;
          img.alt = "Result";
          a.appendChild(img);
          slot.appendChild(a);
          slot.classList.add("done");
        } else if (s.status === "failed" || s.status === "removed") {
          slot.textContent = s.status === "removed" ? "cancelled" : "failed";
          slot.title = s.error || "";
          slot.classList.add("text-danger");
        } else {
          const p = s.progress || {};
          slot.textContent = s.status === "running" && p.max ? (p.value + "/" + p.max) : s.status;
          setTimeout(function () { followSlot(slot, id); }, POLL_MS);
        }
      })
      .catch(function () { setTimeout(function () { followSlot(slot, id); }, POLL_MS * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-filter-for]").forEach(function (input) {
      const select = document.querySelector('[data-multi="' + input.dataset.filterFor + '"]');
      input.addEventListener("input", function () {
        const q = input.value.trim().toLowerCase();
        Array.prototype.forEach.call(select.options, function (o) {
          o.hidden = q !== "" && o.text.toLowerCase().indexOf(q) < 0 && !o.selected;
        });
      });
    });
    document.querySelectorAll("[data-multi]").forEach(function (select) {
      const badge = document.querySelector('[data-count-for="' + select.dataset.multi + '"]');
      select.addEventListener("change", function () {
        badge.textContent = String(select.selectedOptions.length);
      });
    });
  });
})();
