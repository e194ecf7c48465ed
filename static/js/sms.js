// How many SMS a text costs, as the carrier sends it: GSM-7 (160 characters, 153 per part
// of a longer one) when every character is in the GSM 03.38 alphabet, else UCS-2 (70, 67
// per part). The same rules as smsproxy/carrier/gsm7.py, which a browser test compares.

const BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u0020ÆæßÉ" +
    "!\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
// Reached through an escape code: two septets each.
const EXTENSION = new Set("\f^{}\\[~]|€");

const GSM7 = { single: 160, part: 153, name: "GSM-7" };
const UCS2 = { single: 70, part: 67, name: "Unicode" };

function count(units, { single, part }) {
  if (units.reduce((sum, size) => sum + size, 0) <= single) return 1;
  let parts = 1;
  let used = 0;
  for (const size of units) {
    if (used + size > part) {
      parts += 1;
      used = 0;
    }
    used += size;
  }
  return parts;
}

/** {parts, encoding: "GSM-7" | "Unicode", outside: the first character not in GSM-7}. */
export function smsParts(text) {
  const characters = [...text];
  const outside = characters.find((char) => !BASIC.has(char) && !EXTENSION.has(char));
  if (outside === undefined) {
    const units = characters.map((char) => (EXTENSION.has(char) ? 2 : 1));
    return { parts: count(units, GSM7), encoding: GSM7.name, outside: null };
  }
  // Characters beyond the Basic Multilingual Plane (most emoji) take two UCS-2 units.
  const units = characters.map((char) => (char.codePointAt(0) > 0xffff ? 2 : 1));
  return { parts: count(units, UCS2), encoding: UCS2.name, outside };
}

/** "42 characters · 1 SMS", with why a text went Unicode. */
export function describeCost(text) {
  const { parts, encoding, outside } = smsParts(text);
  const length = [...text].length;
  const sms = parts === 1 ? "1 SMS" : `${parts} SMS parts`;
  const base = `${length} character${length === 1 ? "" : "s"} · ${sms} each`;
  if (encoding === "GSM-7") return base;
  return `${base}, sent as Unicode because of “${outside}” (70 characters per SMS, not 160)`;
}
