// Day headings in a chat's thread: before the first message of each day, in the
// browser's time zone ("Today", "Yesterday", else the full date).

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full" });
const relativeDays = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

/** "Today", "Yesterday", else the full local date. */
function dayLabel(date, now = new Date()) {
  const start = (day) => new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime();
  const days = Math.round((start(date) - start(now)) / 86_400_000);
  if (days === 0 || days === -1) {
    const text = relativeDays.format(days, "day");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  return dayFormat.format(date);
}

/** A heading before the first message of each day (local time), across the thread's
 *  parts; only what changed is touched, so screen readers hear only new days. */
export function markDays(scroller) {
  let previous = null;
  for (const bubble of scroller.querySelectorAll(".bubble")) {
    const when = new Date(bubble.querySelector("time[datetime]")?.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    const key = dayKey(when);
    const before = bubble.previousElementSibling;
    const marker = before?.classList.contains("day-separator") ? before : null;
    if (key === previous) {
      marker?.remove();
      continue;
    }
    previous = key;
    if (marker?.dataset.day === key) continue;
    marker?.remove();
    const heading = document.createElement("h2");
    heading.className = "day-separator";
    heading.dataset.day = key;
    const label = document.createElement("span");
    label.textContent = dayLabel(when);
    heading.append(label);
    bubble.before(heading);
  }
}
