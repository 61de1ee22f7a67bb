// The staff dashboard's live progress bar: polls each running version's progress and fills in
// the bar, epoch x of y, the losses and the time left (in words); reloads the page when the run ends so the
// new version's figures appear.  Plain JavaScript, no build step.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var FINAL = { ready: true, failed: true, cancelled: true };

  function number(value) {
    return value === null || value === undefined ? "–" : value.toFixed(3);
  }

  function set(section, selector, text) {
    var node = section.querySelector(selector);
    if (node) node.textContent = text;
  }

  function show(section, p) {
    section.dataset.state = p.state;
    var bar = section.querySelector("progress");
    if (p.fraction !== null && p.fraction !== undefined) bar.value = p.fraction;
    set(section, ".run-state", p.state);
    set(section, ".run-stage", p.stage_label + (p.stage === "evaluating" && p.total ? ", " + p.done + " of " + p.total : ""));
    set(section, ".run-epoch", p.epochs ? "epoch " + p.epoch + " of " + p.epochs : "");
    set(section, ".run-loss", number(p.loss));
    set(section, ".run-val-loss", number(p.val_loss));
    set(section, ".run-eta", p.time_left || "");  // in words, over every phase left (gallery/staff_progress.py)
    // the run's row in the versions table follows it too: "queued" becomes "training" without a reload
    var cell = document.querySelector('table.versions tr[data-version="' + section.dataset.version + '"] td.state');
    if (cell && !FINAL[p.state]) {
      cell.textContent = p.state_label;
      cell.className = "state state-" + p.state;
    }
  }

  function poll(section) {
    fetch(section.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (p) {
        show(section, p);
        if (FINAL[p.state]) {
          setTimeout(function () { window.location.reload(); }, 1500);  // the new version's figures
        } else {
          setTimeout(function () { poll(section); }, POLL_MS);
        }
      })
      .catch(function () { setTimeout(function () { poll(section); }, POLL_MS * 5); });
  }

  document.querySelectorAll("[data-progress-url]").forEach(function (section) { poll(section); });
})();
