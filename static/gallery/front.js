// The front page's example: the before/after split sweeps back and forth by itself, then moves
// on to the next sample.  The example is the photo page's compare (templates/gallery/_compare.html,
// static/gallery/compare.js, which moves the divider for us); it stops for good as soon as the
// visitor touches it (drag, keys, its view buttons) or presses Pause, and never starts for people
// who ask their system for reduced motion.
(function () {
  "use strict";
  var demo = document.querySelector(".front-demo");
  if (!demo || !window.colorsiteCompare) return;
  var figure = demo.querySelector(".compare");
  var pause = demo.querySelector(".demo-pause");
  var picks = Array.prototype.slice.call(demo.querySelectorAll(".demo-pick"));
  var PERIOD_MS = 5000;  // one sweep there and back
  var playing = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var start = null, shown = 0;

  function setPos(pos) {
    window.colorsiteCompare.setPos(figure, pos);
  }

  function show(index) {
    shown = index;
    var pick = picks[index];
    var after = figure.querySelector("img.after"), before = figure.querySelector("img.before");
    figure.dataset.width = pick.dataset.width;
    figure.dataset.height = pick.dataset.height;
    figure.style.setProperty("--aspect", pick.dataset.width + "/" + pick.dataset.height);
    figure.style.setProperty("--full-width", pick.dataset.width + "px");
    after.src = pick.dataset.after;
    after.alt = pick.dataset.title + ", coloured";
    before.src = pick.dataset.before;
    before.alt = pick.dataset.title + ", in grey";
    figure.querySelector("figcaption").textContent = pick.dataset.caption;
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

  figure.querySelector(".canvas").addEventListener("pointerdown", stop);
  figure.querySelector(".divider").addEventListener("keydown", stop);
  figure.querySelector(".compare-tools").addEventListener("click", stop);
  pause.addEventListener("click", function () {
    if (playing) { stop(); return; }
    playing = true;
    pause.textContent = "Pause";
    window.requestAnimationFrame(frame);
  });
  picks.forEach(function (pick, i) { pick.addEventListener("click", function () { stop(); show(i); setPos(50); }); });
  show(0);  // the titles in the pictures' alt texts
  if (playing) window.requestAnimationFrame(frame); else stop();
})();
