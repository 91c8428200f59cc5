// The index's rows live in one script per year beside the page (index/<year>.js, loaded on demand: pages
// opened from file:// may load scripts, not fetch() files). Filter and sort work on all loaded rows; the
// table lays out one page of them at a time, so 10^5 reports open and sort in a moment.
(function () {
  var config = JSON.parse(document.getElementById("index-data").textContent);
  var table = document.getElementById("reports");
  var body = table.tBodies[0];
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");
  var yearSelect = document.getElementById("filter-year");
  var loading = document.getElementById("loading");
  var prev = document.getElementById("page-prev");
  var next = document.getElementById("page-next");
  var total = config.chunks.reduce(function (n, c) { return n + c.rows; }, 0);
  var loaded = {}, requested = {}, view = [], page = 0, sortColumn = -1, direction = 1;
  // A row: [office, html, search, status, keys]; keys[i] sorts column i.
  var ORDER = 0, HTML = 1, SEARCH = 2, STATUS = 3, KEYS = 4;

  window.nianbaoIndex = function (year, rows) {
    loaded[year] = rows;
    update();
  };

  function wantedYears() {
    var year = yearSelect.value;
    return config.chunks.filter(function (c) { return !year || String(c.year) === year; });
  }

  function request(chunk) {
    if (requested[chunk.year]) return;
    requested[chunk.year] = true;
    var script = document.createElement("script");
    script.src = chunk.src;
    script.onerror = function () {
      loading.hidden = false;
      loading.textContent = "无法载入 " + chunk.src;
    };
    document.head.appendChild(script);
  }

  function update() {
    var chunks = wantedYears();
    chunks.forEach(request);
    var missing = chunks.some(function (c) { return !loaded[c.year]; });
    loading.hidden = !missing;
    if (missing) return;
    var words = text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = status.value;
    view = [];
    chunks.forEach(function (c) {
      loaded[c.year].forEach(function (row) {
        if (wanted && row[STATUS] !== wanted) return;
        for (var i = 0; i < words.length; i++) if (row[SEARCH].indexOf(words[i]) < 0) return;
        view.push(row);
      });
    });
    order();
    page = 0;
    render();
  }

  // Unsorted, and between equal keys: by office id, then year, as the batch lists the reports.
  function byOffice(a, b) {
    return a[ORDER] < b[ORDER] ? -1 : a[ORDER] > b[ORDER] ? 1 : a[KEYS][1] - b[KEYS][1];
  }

  function order() {
    if (sortColumn < 0) {
      view.sort(byOffice);
      return;
    }
    var key = numericKeys(sortColumn);
    view.sort(function (a, b) {
      var c = key(a) - key(b);
      return c ? c * direction : byOffice(a, b);
    });
  }

  // A numeric sort key for column `column`: text (office names) is ranked once with the Chinese collator,
  // which is much faster than comparing every pair of names with localeCompare.
  function numericKeys(column) {
    if (table.tHead.rows[0].cells[column].getAttribute("data-sort") !== "text") {
      return function (row) {
        var v = row[KEYS][column];
        return v === null || v === undefined ? -Infinity : v;
      };
    }
    var names = {};
    view.forEach(function (row) { names[row[KEYS][column]] = 0; });
    var collator = new Intl.Collator("zh-CN");
    var rank = {};
    Object.keys(names).sort(collator.compare).forEach(function (name, i) { rank[name] = i; });
    return function (row) { return rank[row[KEYS][column]]; };
  }

  function render() {
    var pages = Math.max(1, Math.ceil(view.length / config.page));
    page = Math.min(Math.max(page, 0), pages - 1);
    var slice = view.slice(page * config.page, (page + 1) * config.page);
    body.innerHTML = slice.map(function (row) { return row[HTML]; }).join("");
    document.getElementById("shown").textContent = view.length;
    document.getElementById("page-at").textContent = "第 " + (page + 1) + " / " + pages + " 页";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function sort(th) {
    var column = Array.prototype.indexOf.call(th.parentNode.children, th);
    direction = column === sortColumn && th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    sortColumn = column;
    Array.prototype.forEach.call(th.parentNode.children, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    order();
    page = 0;
    render();
  }

  if (total > config.all && config.chunks.length) {  // too many for one view: open on the latest year
    yearSelect.value = String(Math.max.apply(null, config.chunks.map(function (c) { return c.year; })));
  }
  text.addEventListener("input", update);
  status.addEventListener("change", update);
  yearSelect.addEventListener("change", update);
  prev.addEventListener("click", function () { page--; render(); });
  next.addEventListener("click", function () { page++; render(); });
  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
    th.addEventListener("click", function () { sort(th); });
  });
  document.getElementById("controls").hidden = false;
  update();
})();
