// colorsite's page script: drag-and-drop upload with a progress bar and a live status line per
// file, live status by polling, the quota line kept current.  Plain JavaScript, no build step.
// (The photo page's before/after compare is static/gallery/compare.js.)
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
      node.querySelectorAll("img[data-url=after]").forEach(function (img) {
        // a compare zoomed to 100 % shows the full-size file; back at fit size it shows the preview
        img.dataset.full = photo.urls.result_inline || "";
        if (img.dataset.fit !== undefined) img.dataset.fit = photo.urls.after;
        var zoomed = img.closest(".compare.zoomed") && img.dataset.full;
        img.src = zoomed ? img.dataset.full : photo.urls.after;
      });
      node.querySelectorAll(".compare.waiting").forEach(function (s) { s.classList.remove("waiting"); });
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
        var ended = false;
        body.photos.forEach(function (photo) {
          nodes.forEach(function (node) {
            if (node.dataset.photoId !== photo.id) return;
            if (node.dataset.status !== photo.status && FINAL[photo.status]) ended = true;
            applyStatus(node, photo);
          });
        });
        if (ended) refreshQuota();  // a result's bytes now count
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  // ---- the quota line of the upload page, read again after an upload or a finished photo ------
  function refreshQuota() {
    var line = document.getElementById("quota-line");
    if (!line) return;
    fetch(line.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && body.line) line.textContent = body.line; })
      .catch(function () { /* the next upload or finished photo tries again */ });
  }

  // ---- upload: each file is its own request, so each gets its own progress bar and status line --
  // XMLHttpRequest rather than fetch: only it reports upload progress.  Once the server has the
  // photo, the line carries its id and follows it live (poll) to done or failed.
  function uploadFile(form, file) {
    var list = document.getElementById("upload-status");
    var line = el("li", "uploading");
    var name = el("span", "name", file.name);
    var state = el("span", "state", "uploading…");
    var bar = el("progress", "upload-progress");
    bar.max = file.size || 1;
    bar.value = 0;
    bar.setAttribute("aria-label", "uploading " + file.name);
    line.dataset.sent = "0";
    line.appendChild(name);
    line.appendChild(document.createTextNode(": "));
    line.appendChild(state);
    line.appendChild(bar);
    list.insertBefore(line, list.firstChild);

    function finish(className, text) {
      line.className = className;
      bar.remove();
      state.textContent = text;
    }

    function answered(body) {
      if (!(body.photos && body.photos.length)) {
        var why = body.rejected && body.rejected.length ? body.rejected[0].error : body.error;
        finish("rejected", why || "rejected");
        return;
      }
      var photo = body.photos[0];
      finish("accepted", "");
      var link = el("a", "name", file.name);
      link.href = photo.urls.page;
      line.replaceChild(link, name);
      state.className = "status status-" + photo.status;
      state.textContent = photo.status_label;
      line.appendChild(el("span", "reason"));
      line.dataset.photoId = photo.id;  // from now on the poll keeps the line current
      line.dataset.status = photo.status;
      if (body.notice) {  // stored, but Redis is down: it waits and is coloured once the queue is back
        line.className = "accepted waiting";
        line.appendChild(el("span", "note", " (saved and waiting; the colouring queue cannot be reached " +
          "right now, and it will be coloured as soon as it is back)"));
      }
      var grid = document.getElementById("recent");
      var empty = grid.querySelector(".empty");
      if (empty) empty.remove();
      grid.insertBefore(makeCard(photo), grid.firstChild);
    }

    var data = new FormData();
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      line.dataset.sent = String(Math.round(100 * e.loaded / e.total));
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = bar.max;
      line.dataset.sent = "100";
      state.textContent = "checking…";
    });
    xhr.addEventListener("load", function () {
      var body;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: "the server answered " + xhr.status }; }
      answered(body);
      refreshQuota();
    });
    xhr.addEventListener("error", function () { finish("rejected", "the upload did not reach the server"); });
    xhr.addEventListener("abort", function () { finish("rejected", "the upload was stopped"); });
    xhr.open("POST", form.dataset.apiUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.send(data);
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

  setUpUpload();
  poll();
})();
