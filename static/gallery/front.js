// The front page's example: the before/after split sweeps back and forth by itself, then moves
// on to the next sample.  It stops for good as soon as the visitor touches the slider or presses
// Pause, and never starts for people who ask their system for reduced motion.
(function () {
  "use strict";
  var demo = document.querySelector(".front-demo");
  if (!demo) return;
  var slider = demo.querySelector(".slider");
  var handle = slider.querySelector(".handle");
  var pause = demo.querySelector(".demo-pause");
  var picks = Array.prototype.slice.call(demo.querySelectorAll(".demo-pick"));
  var PERIOD_MS = 5000;  // one sweep there and back
  var playing = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var start = null, shown = 0;

  function setPos(pos) {
    handle.value = String(Math.round(pos));
    slider.style.setProperty("--pos", pos.toFixed(1) + "%");
  }

  function show(index) {
    shown = index;
    var pick = picks[index];
    var after = slider.querySelector("img.after"), before = slider.querySelector("img.before");
    [after, before].forEach(function (img) { img.width = pick.dataset.width; img.height = pick.dataset.height; });
    after.src = pick.dataset.after;
    after.alt = pick.dataset.title + ", coloured";
    before.src = pick.dataset.before;
    before.alt = pick.dataset.title + ", in grey";
    demo.querySelector(".demo-caption").textContent = pick.dataset.caption;
    picks.forEach(function (p, i) { p.setAttribute("aria-pressed", i === index ? "true" : "false"); });
  }

  function stop() {
    playing = false;
    pause.textContent = "Play";
  }

  function frame(now) {
    if (!playing) { start = null; return; }
    if (start === null) start = now;
    var turns = (now - start) / PERIOD_MS;
    if (turns >= 1) {  // a whole sweep: next sample
      start = now;
      turns = 0;
      if (picks.length > 1) show((shown + 1) % picks.length);
    }
    setPos(50 + 40 * Math.sin(2 * Math.PI * turns));
    window.requestAnimationFrame(frame);
  }

  ["pointerdown", "keydown", "input"].forEach(function (name) { handle.addEventListener(name, stop); });
  pause.addEventListener("click", function () {
    if (playing) { stop(); return; }
    playing = true;
    pause.textContent = "Pause";
    window.requestAnimationFrame(frame);
  });
  picks.forEach(function (pick, i) { pick.addEventListener("click", function () { stop(); show(i); setPos(50); }); });
  if (playing) window.requestAnimationFrame(frame); else stop();
})();
