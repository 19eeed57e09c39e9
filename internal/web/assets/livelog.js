// The admin console's live log: the log page as loaded, kept current from
// /console/log/stream. The page works without it; this only adds the
// revocations logged since, as rows at the top of the table (text only,
// never markup from the server), the chart's bars and the live counts,
// and says so politely to a screen reader.
"use strict";
(function () {
  var section = document.getElementById("log");
  if (!section || !section.dataset.stream || !window.EventSource) {
    return;
  }
  var rows = document.getElementById("log-rows");
  var table = document.getElementById("events-table");
  var none = document.getElementById("no-events");
  var state = document.getElementById("live-state");
  var announce = document.getElementById("live-announce");
  var maxRows = 100;
  var pending = 0;
  var announceTimer = 0;

  function setState(text) {
    if (state) {
      state.textContent = text;
    }
  }

  function cell(label, text, href) {
    var td = document.createElement("td");
    td.dataset.label = label;
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    return td;
  }

  // sameRow: the top row is of the same second, reason, actor, app and
  // user, as the page groups them; it grows rather than a row be added.
  function sameRow(tr, ev) {
    if (!tr) {
      return false;
    }
    var c = tr.cells;
    return c.length === 7 && c[0].textContent === ev.when && c[1].textContent === ev.reason &&
      c[2].textContent === ev.actor && c[3].textContent === ev.client && c[4].textContent === ev.user;
  }

  function addRow(ev) {
    var top = rows.rows[0];
    if (sameRow(top, ev)) {
      top.cells[5].textContent = String(Number(top.cells[5].textContent) + ev.grants);
      top.cells[6].textContent = String(Number(top.cells[6].textContent) + ev.tokens);
      return;
    }
    var tr = document.createElement("tr");
    tr.className = "new";
    tr.appendChild(cell("When", ev.when));
    tr.appendChild(cell("Reason", ev.reason));
    tr.appendChild(cell("By", ev.actor));
    tr.appendChild(cell("App", ev.client));
    tr.appendChild(cell("User", ev.user, ev.user_path));
    tr.appendChild(cell("Grants", String(ev.grants)));
    tr.appendChild(cell("Tokens", String(ev.tokens)));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.rows.length > maxRows) {
      rows.deleteRow(-1);
    }
    table.hidden = false;
    none.hidden = true;
  }

  // The chart: one bar a minute from the SVG's data-start; an event of a
  // minute on the chart lengthens its bar, and every bar is scaled to the
  // highest again.
  var chart = document.getElementById("chart-bars");
  function addToChart(ev) {
    if (!chart || ev.grants === 0) {
      return; // the chart counts revocations; a subject entry revoked nothing
    }
    var i = Math.floor((ev.minute - Number(chart.dataset.start)) / 60);
    var bars = chart.querySelectorAll("rect");
    if (i >= bars.length) {
      slide(bars, i - bars.length + 1);
      i = bars.length - 1;
    }
    if (i < 0) {
      return;
    }
    var bar = bars[i];
    bar.dataset.count = String(Number(bar.dataset.count) + 1);
    var title = bar.querySelector("title");
    if (title) {
      title.textContent = title.textContent.replace(/\d+$/, bar.dataset.count);
    }
    var high = 1, total = 0;
    bars.forEach(function (b) {
      var n = Number(b.dataset.count);
      high = Math.max(high, n);
      total += n;
    });
    var height = chart.viewBox.baseVal.height;
    bars.forEach(function (b) {
      var n = Number(b.dataset.count);
      var h = n > 0 ? Math.max(2, Math.floor(n * height / high)) : 0;
      b.setAttribute("y", String(height - h));
      b.setAttribute("height", String(h));
    });
    var heading = document.getElementById("chart");
    heading.textContent = "The last hour: " + total + (total === 1 ? " revocation" : " revocations");
    document.getElementById("chart-max").textContent = "highest: " + high + " a minute";
  }

  // slide moves the chart on by n minutes while the page stays open: each
  // bar takes the count of the bar n to its right, the newest n start at
  // zero, and each bar's title names its new minute, so that "now" stays
  // the last bar and an event of a minute the page has not drawn yet is
  // counted, not dropped.
  function slide(bars, n) {
    var start = Number(chart.dataset.start) + 60 * n;
    chart.dataset.start = String(start);
    bars.forEach(function (b, j) {
      var next = bars[j + n];
      b.dataset.count = next ? next.dataset.count : "0";
      var title = b.querySelector("title");
      if (title) {
        var t = new Date((start + 60 * j) * 1000);
        var hh = String(t.getUTCHours()).padStart(2, "0");
        var mm = String(t.getUTCMinutes()).padStart(2, "0");
        title.textContent = hh + ":" + mm + " UTC: " + b.dataset.count;
      }
    });
  }

  function say() {
    announceTimer = 0;
    if (announce && pending > 0) {
      announce.textContent = pending === 1 ? "1 new revocation at the top of the log." :
        pending + " new revocations at the top of the log.";
    }
    pending = 0;
  }

  var source = new EventSource(section.dataset.stream);
  source.addEventListener("open", function () {
    setState("Live: new revocations appear at the top as they happen.");
  });
  source.addEventListener("error", function () {
    setState(source.readyState === EventSource.CLOSED ?
      "Live updates stopped. Reload the page to see newer revocations." :
      "Live updates paused; reconnecting…");
  });
  source.addEventListener("revocation", function (msg) {
    var ev = JSON.parse(msg.data);
    addRow(ev);
    addToChart(ev);
    pending++;
    // One announcement for a burst: a bulk revocation is many events.
    if (!announceTimer) {
      announceTimer = setTimeout(say, 1000);
    }
  });
  source.addEventListener("stats", function (msg) {
    var st = JSON.parse(msg.data);
    document.getElementById("live-tokens").textContent = String(st.live_tokens);
    document.getElementById("live-grants").textContent = String(st.live_grants);
    document.getElementById("live-sessions").textContent = String(st.live_sessions);
  });
})();
