// Copy buttons: <button data-copy="#id"> copies the text of the element it names (a new API token,
// a share link) to the clipboard and says so on the button.  Where the page is not a secure
// context (plain HTTP on another machine) the Clipboard API is missing: the text is selected instead,
// so Ctrl-C finishes the job.
(function () {
  "use strict";

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function say(button, text) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, "Copied"); },
        function () { selectText(source); say(button, "Press Ctrl-C"); }
      );
    } else {
      selectText(source);
      say(button, "Press Ctrl-C");
    }
  });
})();
