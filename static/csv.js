// Reading and writing CSV in the browser (RFC 4180): quoted fields with
// commas, quotes ("") and line breaks inside; CRLF, LF or CR line ends; a
// UTF-8 byte-order mark; a comma, semicolon or tab as the separator (the one
// found most often outside quotes in the first line). Writing gives back the
// same separator, line end and byte-order mark, so a file read and written
// again keeps its rows and their order.

"use strict";

const BOM = "\uFEFF";

function sniffSeparator(text) {
  const counts = { ",": 0, ";": 0, "\t": 0 };
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && ch in counts) counts[ch] += 1;
  }
  let best = ",";
  for (const sep of [";", "\t"]) if (counts[sep] > counts[best]) best = sep;
  return best;
}

function sniffLineEnd(text) {
  const lf = text.indexOf("\n");
  if (lf > 0 && text[lf - 1] === "\r") return "\r\n";
  if (lf >= 0) return "\n";
  return text.includes("\r") ? "\r" : "\r\n";
}

// Parses a whole file. Returns {header, rows, format}: the first record as
// the header, every later record as an array of strings, and what write()
// needs to give the file back in the same form. Blank lines are skipped.
export function parse(input) {
  const hasBom = input.startsWith(BOM);
  const text = hasBom ? input.slice(1) : input;
  const sep = sniffSeparator(text);
  const records = [];
  let record = [];
  let field = "";
  let quoted = false;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (ch === sep) {
      record.push(field);
      field = "";
      fieldStarted = false;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      record.push(field);
      if (!(record.length === 1 && record[0] === "")) records.push(record);
      record = [];
      field = "";
      fieldStarted = false;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (fieldStarted || record.length > 0 || field !== "") {
    record.push(field);
    if (!(record.length === 1 && record[0] === "")) records.push(record);
  }
  const [header = [], ...rows] = records;
  return { header, rows, format: { sep, lineEnd: sniffLineEnd(text), bom: hasBom } };
}

function quote(value, sep) {
  const s = value === undefined || value === null ? "" : String(value);
  return s.includes('"') || s.includes(sep) || s.includes("\n") || s.includes("\r") || /^\s|\s$/.test(s)
    ? `"${s.replaceAll('"', '""')}"`
    : s;
}

// Writes a header and rows in the given format (from parse()), ending with
// a line end.
export function write(header, rows, format = { sep: ",", lineEnd: "\r\n", bom: false }) {
  const lines = [header, ...rows].map((cells) => cells.map((c) => quote(c, format.sep)).join(format.sep));
  return (format.bom ? BOM : "") + lines.join(format.lineEnd) + format.lineEnd;
}
