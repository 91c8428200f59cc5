// Filter and sort the index in the browser; without scripts the page is a plain, complete table.
(function () {
  var table = document.getElementById("reports");
  var body = table.tBodies[0];
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");
  document.getElementById("controls").hidden = false;

  function filter() {
    var words = text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = status.value;
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var hay = row.getAttribute("data-search");
      var ok = (!wanted || row.getAttribute("data-status") === wanted) &&
        words.every(function (w) { return hay.indexOf(w) >= 0; });
      row.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById("shown").textContent = shown;
  }

  function sort(th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-sort") === "number";
    var direction = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(th.parentNode.children, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-key"), y = b.cells[index].getAttribute("data-key");
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y, "zh-CN");
      return c * direction;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  text.addEventListener("input", filter);
  status.addEventListener("change", filter);
  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
    th.addEventListener("click", function () { sort(th); });
  });
})();
