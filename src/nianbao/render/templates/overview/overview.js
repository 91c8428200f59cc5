// Sort the overview's tables by a click on a column header; without scripts the tables are complete.
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), function (table) {
    var body = table.tBodies[0];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.addEventListener("click", function () {
        var direction = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(th.parentNode.cells, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[index].getAttribute("data-key"), y = b.cells[index].getAttribute("data-key");
          if (x === null || y === null) return 0;
          var nx = Number(x), ny = Number(y);
          var c = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y, "zh-CN");
          return c * direction;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
