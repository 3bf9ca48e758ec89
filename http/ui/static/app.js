// mcr web UI: the only script. It earns its place twice: copy fields
// select their text on focus, and the GC page follows a running
// collection live. Everything else works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("input.copy")) {
    el.addEventListener("focus", () => el.select());
  }
  const gc = document.getElementById("gc");
  if (gc && gc.dataset.active === "true") {
    followGC(gc.dataset.status);
  }
});

// followGC polls the collection's status until it is no longer active,
// showing its progress, then reloads the page for the final report.
function followGC(url) {
  const state = document.getElementById("gc-state");
  const bar = document.getElementById("gc-progress");
  const note = document.getElementById("gc-note");
  const tick = async () => {
    let st;
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok) {
        state.textContent = "status unavailable (" + res.status + ")";
        return;
      }
      st = await res.json();
    } catch (e) {
      state.textContent = "status unavailable";
      return;
    }
    state.textContent = st.state;
    note.textContent = st.note;
    if (st.total > 0) {
      bar.max = st.total;
      bar.value = st.done;
    } else {
      bar.removeAttribute("value");
    }
    if (st.active) {
      setTimeout(tick, 300);
    } else {
      window.location.reload();
    }
  };
  tick();
}
