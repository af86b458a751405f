// archon's report: the question table (filtered, a page at a time) and a question's drill-down,
// drawn from the inline JSON. Text is always set as text (never parsed as HTML).
// Large data comes gzipped in base64, opened by the browser's own DecompressionStream.
(function () {
  "use strict";
  var node = document.getElementById("data");
  if (node.dataset.encoding !== "gzip+base64") return start(JSON.parse(node.textContent));
  var bytes = Uint8Array.from(atob(node.textContent), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (text) { start(JSON.parse(text)); }, function (e) {
    document.body.prepend(document.createTextNode("this report's data could not be opened: " + e));
  });
})();

function start(D) {
  "use strict";
  if (D.kind !== "run" && D.kind !== "compare") { document.body.dataset.ready = "1"; return; }
  var PAGE = 100;
  var state = { filter: "all", q: "", page: 0, shown: [] };
  var compare = D.kind === "compare";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }
  function fmt(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d === undefined ? 3 : d); }

  // -- the table ------------------------------------------------------------------------------
  var rows = D.rows;
  var low = rows.map(function (r) {
    return compare ? (r[0] + " " + r[1] + " " + r[4].join(" ")).toLowerCase()
                   : (r[0] + " " + r[1] + " " + r[4] + " " + r[8]).toLowerCase();
  });
  function keep(r) {
    var f = state.filter;
    if (f === "all") return true;
    if (compare) return f === "different" ? r[5] : r[3].indexOf(f) >= 0;
    return r[3] === f;
  }
  function refilter() {
    var q = state.q.toLowerCase();
    state.shown = [];
    for (var i = 0; i < rows.length; i++) if (keep(rows[i]) && (!q || low[i].indexOf(q) >= 0)) state.shown.push(i);
    state.page = 0;
    draw();
  }
  function head() {
    var tr = el("tr");
    var cols = compare ? ["id", "category"].concat(D.labels.map(function (l) { return l; })).concat(["different"])
                       : ["id", "category", "score", "verdict", "answer", "calls", "tokens", "latency s"];
    cols.forEach(function (c) { add(tr, el("th", null, c)); });
    add(document.querySelector("#rows thead"), tr);
  }
  function draw() {
    var body = document.querySelector("#rows tbody");
    body.textContent = "";
    var pages = Math.max(1, Math.ceil(state.shown.length / PAGE));
    var start = state.page * PAGE, frag = document.createDocumentFragment();
    state.shown.slice(start, start + PAGE).forEach(function (i) {
      var r = rows[i], tr = el("tr");
      tr.dataset.id = r[0];
      add(tr, el("td", null, r[0]), el("td", null, r[1]));
      if (compare) {
        r[2].forEach(function (s, k) {
          var td = el("td", "v-" + r[3][k], fmt(s) + " " + r[3][k]);
          td.title = r[4][k];
          add(tr, td);
        });
        add(tr, el("td", null, r[5] ? "yes" : ""));
      } else {
        add(tr, el("td", null, fmt(r[2])), el("td", "v-" + r[3], r[3]), el("td", "snip", r[3] === "error" ? r[8] : r[4]),
            el("td", null, r[5]), el("td", null, r[6]), el("td", null, fmt(r[7], 2)));
      }
      tr.addEventListener("click", function () { show(r[0], tr); });
      frag.appendChild(tr);
    });
    body.appendChild(frag);
    document.getElementById("count").textContent = state.shown.length + " of " + rows.length + " questions";
    document.getElementById("page").textContent = "page " + (state.page + 1) + " of " + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }

  // -- the drill-down -------------------------------------------------------------------------
  function text(tr, i) { return i === null || i === undefined ? null : tr.texts[i]; }
  function resolve(tr, v) {
    if (Array.isArray(v)) return v.map(function (x) { return resolve(tr, x); });
    if (v && typeof v === "object") {
      var keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === "t") return text(tr, v.t);
      var o = {};
      keys.forEach(function (k) { o[k] = resolve(tr, v[k]); });
      return o;
    }
    return v;
  }
  function cand(tr, id, number, note) {
    var c = tr.candidates[id], box = el("div", "cand");
    box.dataset.cand = id;
    add(box, el("b", null, "[" + number + "] "), el("span", "ctext", text(tr, c[0])));
    if (note) add(box, el("span", "stat", "  " + note));
    if (c[1] !== null) add(box, el("div", "crit", "critique: " + text(tr, c[1])));
    if (c[2]) box.title = c[2];
    return box;
  }
  function pre(s) { return el("pre", null, s); }
  function decision(tr, c) {
    var d = resolve(tr, c.decision || {}), box = el("div", "decision"), n = c.inputs.length;
    function line(s) { add(box, el("div", null, s)); }
    if (c.type === "ranker" && d.order) {
      line(d.parsed ? "ranking: " + d.order.map(function (i) { return "[" + (i + 1) + "]"; }).join(" > ")
                    : "could not read a ranking from the reply: incoming order kept");
    } else if (c.type === "critic" && d.parsed) {
      var missing = [];
      d.parsed.forEach(function (p, i) { if (!p) missing.push("[" + (i + 1) + "]"); });
      line(missing.length ? "no critique found for " + missing.join(", ") : "a critique for every candidate");
    } else if (c.type === "verifier" && d.verdicts) {
      d.verdicts.forEach(function (v, i) {
        add(box, el("div", v === true ? "pass" : "fail", "[" + (i + 1) + "] " + (v === true ? "correct" : v === false ? "incorrect" : "unreadable verdict")));
      });
      if (d.kept_all_rejected) line("every candidate rejected: all passed on");
    } else if (c.type === "majority_vote" && d.counts) {
      line("votes: " + Object.keys(d.counts).map(function (k) { return k + " × " + d.counts[k]; }).join(", "));
    } else if (c.type === "unit_test_generator" && d.tests) {
      line(d.tests.length + " unit tests");
      var ol = el("ol");
      d.tests.forEach(function (t) { add(ol, el("li", null, t)); });
      add(box, ol);
    } else if (c.type === "unit_test_evaluator" && d.results) {
      d.results.forEach(function (res, i) {
        line("[" + (i + 1) + "] " + (res ? res.map(function (p) { return p ? "PASS" : "FAIL"; }).join(" ") : "unreadable") +
             "  score " + d.scores[i] + " of " + d.tests.length);
      });
    } else if (!Object.keys(d).length) {
      return null;
    }
    var det = el("details");
    add(det, el("summary", null, "replies and raw decision"), pre(JSON.stringify(d, null, 2)));
    add(box, det);
    return box;
  }
  function component(tr, c) {
    var box = el("div", "component");
    box.dataset.type = c.type;
    var h = el("div", "head");
    add(h, el("b", null, c.type), el("span", null, "  " + (c.model || "") + (c.prompt_style ? " · " + c.prompt_style : "")));
    var run = c.run || {};
    add(h, el("div", "stat", c.replies + " replies (" + (run.calls || 0) + " sent, " + (run.cache_hits || 0) + " from cache) · " +
        (c.prompt_tokens + c.completion_tokens) + " tokens · $" + Number(c.cost || 0).toFixed(6) + " · " + fmt(run.seconds, 2) + "s" +
        (c.parse_failures ? " · " + c.parse_failures + " parse failures" : "")));
    add(box, h);
    var ins = el("div", "inputs");
    add(ins, el("div", "lbl", "received " + c.inputs.length + " candidates"));
    c.inputs.forEach(function (id, i) { add(ins, cand(tr, id, i + 1)); });
    if (c.inputs.length) add(box, ins);
    add(box, decision(tr, c));
    if (c.unit_tests) {
      var ul = el("ol");
      c.unit_tests.forEach(function (t) { add(ul, el("li", null, text(tr, t))); });
      add(box, el("div", "lbl", "unit tests"), ul);
    }
    var outs = el("div", "outputs");
    add(outs, el("div", "lbl", "passed on " + c.outputs.length));
    c.outputs.forEach(function (id, i) {
      var from = c.inputs.indexOf(id);
      add(outs, cand(tr, id, i + 1, from >= 0 ? "= received [" + (from + 1) + "]" : ""));
    });
    add(box, outs);
    return box;
  }
  function traceView(tr) {
    var box = el("div", "trace");
    tr.turns.forEach(function (turn, k) {
      if (tr.turns.length > 1) add(box, el("h3", null, "turn " + (k + 1)));
      add(box, el("div", "lbl", "prompt"));
      turn.messages.forEach(function (m) { add(box, pre(m[0] + ": " + text(tr, m[1]))); });
      turn.layers.forEach(function (layer) {
        var lb = el("div", "layer");
        lb.dataset.layer = layer.layer;
        add(lb, el("h4", null, "layer " + layer.layer + ": " + layer.components.map(function (c) { return c.type; }).join(", ")));
        layer.components.forEach(function (c) { add(lb, component(tr, c)); });
        add(box, lb);
      });
      if (turn.error) add(box, el("div", "v-error", "error: " + turn.error));
    });
    return box;
  }
  function questionView(det, label) {
    var col = el("div", "col");
    if (label) add(col, el("h3", null, label));
    if (!det) return add(col, el("p", "empty", "not in this run"));
    if (det.trace) add(col, traceView(det.trace));
    else add(col, el("p", "note", "no trace for this question"));
    add(col, el("div", "lbl", "answer"));
    det.answers.forEach(function (a) { add(col, pre(a)); });
    if (det.error) add(col, el("div", "v-error", "error: " + det.error));
    add(col, el("div", "lbl", "score details"), pre(JSON.stringify(det.score_details, null, 2)));
    return col;
  }
  function show(id, tr) {
    var prev = document.querySelector("#rows tr.sel");
    if (prev) prev.classList.remove("sel");
    if (tr) tr.classList.add("sel");
    var box = document.getElementById("detail");
    box.textContent = "";
    box.hidden = false;
    add(box, el("h2", null, "Question " + id));
    if (compare) {
      var cols = el("div", "cols");
      D.details.forEach(function (runDetails, k) { add(cols, questionView(runDetails[id], D.labels[k])); });
      add(box, cols);
    } else {
      add(box, questionView(D.details[id]));
    }
    if (location.hash !== "#q=" + encodeURIComponent(id)) history.replaceState(null, "", "#q=" + encodeURIComponent(id));
  }

  head();
  document.querySelectorAll(".filters button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".filters button").forEach(function (x) { x.classList.remove("on"); });
      b.classList.add("on");
      state.filter = b.dataset.filter;
      refilter();
    });
  });
  document.getElementById("search").addEventListener("input", function (e) { state.q = e.target.value; refilter(); });
  document.getElementById("prev").addEventListener("click", function () { state.page--; draw(); });
  document.getElementById("next").addEventListener("click", function () { state.page++; draw(); });
  refilter();
  var m = /^#q=(.*)$/.exec(location.hash);
  if (m) show(decodeURIComponent(m[1]), null);
  document.body.dataset.ready = "1";
}
