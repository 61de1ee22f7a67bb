// colorsite's page script: drag-and-drop upload with per-file status, live status by polling,
// and the before/after slider.  Plain JavaScript, no build step.
(function () {
  "use strict";
  var FINAL = { done: true, failed: true };
  var POLL_MS = 1000;
  var statusUrl = document.body.dataset.statusUrl;

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- cards (the same markup as templates/gallery/_card.html) --------------------------------
  function makeCard(photo) {
    var li = el("li", "card");
    li.dataset.photoId = photo.id;
    li.dataset.status = photo.status;
    var link = el("a");
    link.href = photo.urls.page;
    var img = el("img", "thumb");
    img.alt = photo.name;
    img.width = 200;
    img.src = photo.urls.thumb;
    link.appendChild(img);
    var meta = el("div", "meta");
    meta.appendChild(el("span", "name", photo.name));
    meta.appendChild(el("span", "status status-" + photo.status, photo.status_label));
    li.appendChild(link);
    li.appendChild(meta);
    li.appendChild(el("div", "reason", photo.failure_reason || ""));
    return li;
  }

  function applyStatus(node, photo) {
    node.dataset.status = photo.status;
    var label = node.querySelector(".status");
    if (label) {
      label.textContent = photo.status_label;
      label.className = "status status-" + photo.status;
    }
    var reason = node.querySelector(".reason");
    if (reason) reason.textContent = photo.status === "failed" ? photo.failure_reason : "";
    // a failed photo waiting for its automatic retry is polled on, so the page sees it queued again
    node.dataset.retrying = photo.retry ? "1" : "";
    var note = node.querySelector(".retry-note");
    if (note) note.textContent = photo.retry ? photo.retry.message : "";
    var thumb = node.querySelector("img.thumb");
    if (thumb && photo.urls.thumb && thumb.getAttribute("src") !== photo.urls.thumb) thumb.src = photo.urls.thumb;
    if (photo.status === "done" && photo.urls.after) {
      node.querySelectorAll("img[data-url=after]").forEach(function (img) { img.src = photo.urls.after; });
      node.querySelectorAll(".slider.waiting").forEach(function (s) { s.classList.remove("waiting"); });
      var download = node.querySelector(".download-result");
      if (download) { download.href = photo.urls.result; download.classList.remove("hidden"); }
      node.querySelectorAll("[data-metric]").forEach(function (dd) {
        var value = photo[dd.dataset.metric];
        if (value !== null && value !== undefined) {
          dd.textContent = dd.dataset.metric === "psnr" ? value.toFixed(2) + " dB" : value.toFixed(1);
        }
      });
    }
  }

  // ---- live status: poll the batch status endpoint for every photo not yet final ------------
  function pending() {
    return Array.prototype.filter.call(document.querySelectorAll(".live[data-photo-id], .live [data-photo-id]"),
      function (node) { return !FINAL[node.dataset.status] || node.dataset.retrying; });
  }

  function poll() {
    var nodes = pending();
    if (!nodes.length) { setTimeout(poll, POLL_MS); return; }
    var ids = nodes.map(function (n) { return n.dataset.photoId; });
    fetch(statusUrl + "?ids=" + encodeURIComponent(ids.join(",")), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { photos: [] }; })
      .then(function (body) {
        body.photos.forEach(function (photo) {
          nodes.forEach(function (node) { if (node.dataset.photoId === photo.id) applyStatus(node, photo); });
        });
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  // ---- upload: each file is its own request, so each gets its own status line ----------------
  function uploadFile(form, file) {
    var list = document.getElementById("upload-status");
    var line = el("li", "uploading", file.name + ": uploading…");
    list.insertBefore(line, list.firstChild);
    var data = new FormData();
    data.append("file", file, file.name);
    return fetch(form.dataset.apiUrl, {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() }
    }).then(function (r) {
      return r.json().catch(function () { return { error: "the server answered " + r.status }; });
    }).then(function (body) {
      if (body.photos && body.photos.length) {
        var photo = body.photos[0];
        line.className = "accepted";
        line.textContent = file.name + ": queued for colouring";
        if (body.notice) {  // stored, but Redis is down: it waits and is coloured once the queue is back
          line.className = "accepted waiting";
          line.textContent = file.name + ": saved and waiting; the colouring queue cannot be reached right now, " +
            "and it will be coloured as soon as it is back";
        }
        var grid = document.getElementById("recent");
        var empty = grid.querySelector(".empty");
        if (empty) empty.remove();
        grid.insertBefore(makeCard(photo), grid.firstChild);
      } else {
        line.className = "rejected";
        var why = body.rejected && body.rejected.length ? body.rejected[0].error : body.error;
        line.textContent = file.name + ": " + (why || "rejected");
      }
    }).catch(function () {
      line.className = "rejected";
      line.textContent = file.name + ": the upload did not reach the server";
    });
  }

  function setUpUpload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("file-input");
    function send(files) {
      Array.prototype.forEach.call(files, function (file) { uploadFile(form, file); });
    }
    input.addEventListener("change", function () { send(input.files); input.value = ""; });
    form.addEventListener("submit", function (e) { e.preventDefault(); send(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (e) { e.preventDefault(); form.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      form.addEventListener(name, function (e) { e.preventDefault(); form.classList.remove("over"); });
    });
    form.addEventListener("drop", function (e) { send(e.dataTransfer.files); });
  }

  // ---- before/after slider: the range input moves the split --------------------------------
  function setUpSliders() {
    document.querySelectorAll(".slider .handle").forEach(function (handle) {
      handle.addEventListener("input", function () {
        handle.closest(".slider").style.setProperty("--pos", handle.value + "%");
      });
    });
  }

  setUpUpload();
  setUpSliders();
  poll();
})();
