// attentiond console: the chart's tooltips. Everything else works without script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".chart-box").forEach(function (box) {
    var tip = box.querySelector(".chart-tip");
    if (!tip) { return; }
    function show(event) {
      var mark = event.target;
      tip.textContent = mark.getAttribute("data-tip");
      tip.hidden = false;
      var boxRect = box.getBoundingClientRect();
      var markRect = mark.getBoundingClientRect();
      var left = markRect.left - boxRect.left + markRect.width / 2 + 8;
      var maxLeft = box.clientWidth - tip.offsetWidth - 4;
      tip.style.left = Math.max(0, Math.min(left, maxLeft)) + "px";
      tip.style.top = Math.max(0, markRect.top - boxRect.top - tip.offsetHeight - 6) + "px";
    }
    function hide() { tip.hidden = true; }
    box.querySelectorAll(".mark").forEach(function (mark) {
      mark.addEventListener("mouseenter", show);
      mark.addEventListener("focus", show);
      mark.addEventListener("mouseleave", hide);
      mark.addEventListener("blur", hide);
    });
  });
});
