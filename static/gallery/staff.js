// The staff dashboard's live progress bar: polls each running version's progress and fills in
// the bar, epoch x of y, the losses and the time left; reloads the page when the run ends so the
// new version's figures appear.  Plain JavaScript, no build step.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var FINAL = { ready: true, failed: true, cancelled: true };

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds >= 3600) return Math.floor(seconds / 3600) + " h " + String(Math.floor(seconds % 3600 / 60)).padStart(2, "0") + " min";
    if (seconds >= 60) return Math.floor(seconds / 60) + " min " + String(seconds % 60).padStart(2, "0") + " s";
    return seconds + " s";
  }

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
    set(section, ".run-eta", p.eta_seconds !== null && p.eta_seconds !== undefined && p.stage !== "validating" && p.stage !== "evaluating"
      ? "about " + duration(p.eta_seconds) + " of training left" : "");
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
