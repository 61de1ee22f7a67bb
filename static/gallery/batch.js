// The gallery's batch bar (templates/gallery/list.html): "Select all", a count of the ticked photos,
// buttons that wait for a tick, and a confirmation before a batch delete.  Without JavaScript the
// form still works; the server answers an empty selection with a message.
(function () {
  "use strict";
  var form = document.getElementById("batch");
  if (!form) return;
  var all = document.getElementById("select-all");
  var count = form.querySelector(".batch-count");

  function boxes() { return document.querySelectorAll('input.pick[form="batch"]'); }

  function update() {
    var list = boxes();
    var ticked = Array.prototype.filter.call(list, function (box) { return box.checked; }).length;
    count.textContent = ticked ? ticked + " selected" : "none selected";
    all.checked = ticked > 0 && ticked === list.length;
    all.indeterminate = ticked > 0 && ticked < list.length;
    form.querySelectorAll("button[name=action]").forEach(function (button) { button.disabled = !ticked; });
  }

  all.addEventListener("change", function () {
    boxes().forEach(function (box) { box.checked = all.checked; });
    update();
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches('input.pick[form="batch"]')) update();
  });
  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && submitter.value === "delete" && !window.confirm("Delete the ticked photos and all their files?")) {
      event.preventDefault();
    }
  });
  update();
})();
