// Slipway's only script: live progress on a project page over the API's event stream
// (EventSource resumes with Last-Event-ID after a dropped connection). Every page works
// without it.
"use strict";

function followProgress(bar) {
  const percentText = document.getElementById("progress-percent");
  const log = document.getElementById("step-log");
  const fill = bar.querySelector(".progress-fill");
  const url = bar.dataset.stream + "?after=" + encodeURIComponent(bar.dataset.after || "0");
  const source = new EventSource(url);
  source.addEventListener("progress", (message) => {
    const event = JSON.parse(message.data);
    const percent = String(event.percent);
    bar.setAttribute("aria-valuenow", percent);
    bar.setAttribute("aria-valuetext", percent + "%");
    fill.style.width = percent + "%";
    percentText.textContent = percent;
    const item = document.createElement("li");
    item.className = "level-" + event.level;
    item.dataset.sequence = String(event.sequence);
    const step = document.createElement("span");
    step.className = "step";
    step.translate = false; // the step's identifier, as the CLI and API name it
    step.textContent = event.step;
    item.append(step, " " + event.message);
    log.append(item);
    if (event.final) {
      source.close();
      // The finished page shows each environment's resources.
      window.setTimeout(() => {
        window.location.href = event.final === "deleted" ? "/projects" : window.location.pathname;
      }, 800);
    }
  });
  source.addEventListener("deleted", () => {
    source.close();
    window.location.href = "/projects";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const bar = document.querySelector("[role=progressbar][data-stream]");
  if (bar) followProgress(bar);
});
