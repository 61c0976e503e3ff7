// hea-dvae book: every table fits the text column (make check-book checks it).
// Loaded on every page through html_js_files in _config.yml.
//
// 1. Column names of code (rules_single_phase, p_single_phase) may break
//    after an underscore.
// 2. A table still wider than its box once the page has loaded is marked
//    "squeezed": its column names may then break inside a word
//    (book/_static/hea_dvae.css), and a long formula in it before an
//    element (Al0.5Nb1Ti1V1Zr1 -> Al0.5 Nb1 Ti1 ...). Only such tables:
//    elsewhere a short name such as "value" never breaks.
const TABLES = "div.cell_output table.dataframe";

// Let the text nodes of `cell` break before each match of `where`.
function breakable(cell, where) {
  for (const node of [...cell.childNodes]) {
    if (node.nodeType !== Node.TEXT_NODE) continue;
    const pieces = node.textContent.split(where);
    if (pieces.length < 2) continue;
    const words = document.createDocumentFragment();
    pieces.forEach((piece, i) => {
      if (i > 0) words.append(document.createElement("wbr"));
      words.append(piece);
    });
    node.replaceWith(words);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const cell of document.querySelectorAll(`${TABLES} th`)) breakable(cell, /(?<=_)/);
});

window.addEventListener("load", () => {
  for (const table of document.querySelectorAll(TABLES)) {
    if (table.getBoundingClientRect().width <= table.parentElement.clientWidth + 1) continue;
    table.classList.add("squeezed");
    for (const cell of table.querySelectorAll("td, tbody th")) {
      if (/^\S{16,}$/.test(cell.textContent.trim())) breakable(cell, /(?=[A-Z])/);
    }
  }
});
