// The before/after compare of the photo page (templates/gallery/_compare.html).  Plain JavaScript.
//
// * Drag anywhere on the picture to move the divider (pointer events: mouse, pen and touch).
// * The divider is a focusable role="slider": arrow keys move it by 1 % (with Shift, or Page Up /
//   Page Down, by 10 %), Home and End go to the edges; aria-valuenow follows.
// * "Side by side" shows both pictures whole, next to each other.
// * "Zoom to 100 %" loads the full-resolution files and shows them pixel for pixel; drag the divider
//   to compare, drag elsewhere (or scroll) to move around.  Side by side, the two panes scroll together.
// * "Full screen" fills the window (and the screen, where the browser allows); Escape leaves it.
(function () {
  "use strict";

  function clamp(value) { return Math.max(0, Math.min(100, value)); }

  function setPos(figure, pos) {
    pos = clamp(pos);
    figure.style.setProperty("--pos", pos + "%");
    var divider = figure.querySelector(".divider");
    var rounded = Math.round(pos);
    var label = figure.querySelector(".pane-before .tag");
    divider.setAttribute("aria-valuenow", String(rounded));
    divider.setAttribute("aria-valuetext", rounded + " % " + (label ? label.textContent : "before"));
  }

  function getPos(figure) {
    return Number(figure.querySelector(".divider").getAttribute("aria-valuenow"));
  }

  function press(figure, action, on) {
    var button = figure.querySelector("[data-action=" + action + "]");
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // -- dragging ---------------------------------------------------------------------------------
  function setUpDrag(figure) {
    var canvas = figure.querySelector(".canvas");
    var frame = figure.querySelector(".frame");
    var drag = null;  // {mode: "divider" | "pan", x, y, left, top}

    function posAt(clientX) {
      var rect = canvas.getBoundingClientRect();
      return rect.width ? (clientX - rect.left) / rect.width * 100 : getPos(figure);
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (figure.dataset.mode === "side" || figure.classList.contains("waiting") || e.button > 0) return;
      var onDivider = e.target.classList.contains("divider");
      // Zoomed in, a drag that starts off the divider moves the picture instead.
      var mode = figure.classList.contains("zoomed") && !onDivider ? "pan" : "divider";
      drag = { mode: mode, x: e.clientX, y: e.clientY, left: frame.scrollLeft, top: frame.scrollTop };
      canvas.setPointerCapture(e.pointerId);
      if (mode === "divider") setPos(figure, posAt(e.clientX));
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drag) return;
      if (drag.mode === "divider") {
        setPos(figure, posAt(e.clientX));
      } else {
        frame.scrollLeft = drag.left - (e.clientX - drag.x);
        frame.scrollTop = drag.top - (e.clientY - drag.y);
      }
    });
    function end(e) {
      if (!drag) return;
      drag = null;
      if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  // -- keyboard ---------------------------------------------------------------------------------
  var STEPS = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };

  function setUpKeys(figure) {
    var divider = figure.querySelector(".divider");
    divider.addEventListener("keydown", function (e) {
      var pos = getPos(figure);
      if (e.key in STEPS) pos += STEPS[e.key] * (e.shiftKey && Math.abs(STEPS[e.key]) === 1 ? 10 : 1);
      else if (e.key === "Home") pos = 0;
      else if (e.key === "End") pos = 100;
      else return;
      e.preventDefault();
      setPos(figure, pos);
    });
  }

  // -- zoom to 100 % ------------------------------------------------------------------------------
  function swapSources(figure, full) {
    figure.querySelectorAll(".pane img").forEach(function (img) {
      if (full) {
        if (!img.dataset.full) return;
        img.dataset.fit = img.getAttribute("src");
        img.src = img.dataset.full;
      } else if (img.dataset.fit) {
        img.src = img.dataset.fit;
        delete img.dataset.fit;
      }
    });
  }

  function centreOnDivider(figure) {
    var frame = figure.querySelector(".frame");
    var width = Number(figure.dataset.width), height = Number(figure.dataset.height);
    frame.scrollLeft = width * getPos(figure) / 100 - frame.clientWidth / 2;
    frame.scrollTop = (height - frame.clientHeight) / 2;
    figure.querySelectorAll(".pane").forEach(function (pane) {
      pane.scrollLeft = (width - pane.clientWidth) / 2;
      pane.scrollTop = (height - pane.clientHeight) / 2;
    });
  }

  function setZoom(figure, on) {
    figure.classList.toggle("zoomed", on);
    press(figure, "zoom", on);
    swapSources(figure, on);
    if (on) centreOnDivider(figure);
  }

  // Side by side and zoomed, each picture scrolls in its own pane: keep the two on the same spot.
  function setUpPaneSync(figure) {
    var panes = figure.querySelectorAll(".pane");
    var busy = false;
    panes.forEach(function (pane) {
      pane.addEventListener("scroll", function () {
        if (busy) return;
        busy = true;
        panes.forEach(function (other) {
          if (other !== pane) { other.scrollLeft = pane.scrollLeft; other.scrollTop = pane.scrollTop; }
        });
        busy = false;
      });
    });
  }

  // -- full screen ----------------------------------------------------------------------------------
  function setFull(figure, on) {
    figure.classList.toggle("is-full", on);
    document.documentElement.classList.toggle("compare-full", on);
    press(figure, "full", on);
    if (on && figure.requestFullscreen && !document.fullscreenElement) {
      // The overlay works without it; the browser may refuse (no user gesture, an iframe).
      figure.requestFullscreen().catch(function () {});
    } else if (!on && document.fullscreenElement === figure) {
      document.exitFullscreen().catch(function () {});
    }
    if (figure.classList.contains("zoomed")) centreOnDivider(figure);
  }

  function setUpCompare(figure) {
    setUpDrag(figure);
    setUpKeys(figure);
    setUpPaneSync(figure);
    figure.querySelector(".compare-tools").addEventListener("click", function (e) {
      var button = e.target.closest("[data-action]");
      if (!button) return;
      var on = button.getAttribute("aria-pressed") !== "true";
      if (button.dataset.action === "side") {
        figure.dataset.mode = on ? "side" : "slider";
        press(figure, "side", on);
        if (figure.classList.contains("zoomed")) centreOnDivider(figure);
      } else if (button.dataset.action === "zoom") {
        setZoom(figure, on);
      } else if (button.dataset.action === "full") {
        setFull(figure, on);
      }
    });
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll(".compare.is-full").forEach(function (figure) { setFull(figure, false); });
  });
  document.addEventListener("fullscreenchange", function () {
    // Left the browser's full screen (Escape, the browser's own control): leave the overlay too.
    if (document.fullscreenElement) return;
    document.querySelectorAll(".compare.is-full").forEach(function (figure) { setFull(figure, false); });
  });

  document.querySelectorAll(".compare").forEach(setUpCompare);
  // Other scripts move a divider through the same code (the front page's moving example, static/gallery/front.js).
  window.colorsiteCompare = { setPos: setPos };
})();
