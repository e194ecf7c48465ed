// A message's SMS, grouped by state: one row names every recipient whose SMS is in the
// same state (with the same error), as the server renders it (macros.html
// delivery_group). As an SMS changes state, its recipient moves to the row of that state.

const LABELS = {
  queued: "Queued",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  failed: "Failed",
  rejected: "Rejected",
  expired: "Expired",
  suppressed: "Not sent",
};

function setBadge(group, status, error) {
  group.dataset.status = status;
  const badge = group.querySelector('[data-role="status"]');
  badge.className = `badge badge-${status}`;
  badge.dataset.status = status;
  badge.textContent = LABELS[status] ?? status;
  const shown = group.querySelector('[data-role="error"]');
  shown.textContent = error;
  shown.hidden = !error;
}

export const errorOf = (group) => group.querySelector('[data-role="error"]').textContent;

/** The group of a bubble's deliveries in this state (and with this error), if any. */
function groupIn(list, status, error) {
  return [...list.children].find(
    (group) => group.dataset.status === status && errorOf(group) === error,
  );
}

function newGroup(status, error) {
  const group = document.createElement("li");
  group.className = "delivery";
  group.innerHTML = `<span class="delivery-to">to </span> <span data-role="status"></span>
    <span class="delivery-error" data-role="error" hidden></span>`;
  setBadge(group, status, error);
  return group;
}

/** Put a recipient in the group of its SMS's state, making one when none is. */
/**
 * What a delivery row says under its badge: the error, and how many sends the carrier
 * never answered (the recipient may have the SMS more than once). The server writes
 * the same words (`transcripts.delivery_note`): rows group by them.
 */
export function deliveryNote(data) {
  const parts = data.error ? [data.error] : [];
  const unanswered = data.ambiguous_attempts ?? 0;
  if (unanswered) {
    const times = `${unanswered} time${unanswered > 1 ? "s" : ""}`;
    parts.push(
      `Sent ${times} without an answer from the carrier: the recipient may have it more than once.`,
    );
  }
  return parts.join(" ");
}

export function moveRecipient(list, recipient, status, error) {
  const from = recipient.closest(".delivery");
  if (from && from.dataset.status === status && errorOf(from) === error) return;
  let to = groupIn(list, status, error);
  if (!to && from && from.querySelectorAll(".recipient").length === 1) {
    setBadge(from, status, error); // alone in its group: the group changes state
    return;
  }
  if (!to) {
    to = newGroup(status, error);
    list.append(to);
  }
  // In the chat's order of people, whatever order their SMS changed state in.
  const order = Number(recipient.dataset.order);
  const later = [...to.querySelectorAll(".recipient")].find(
    (other) => Number(other.dataset.order) > order,
  );
  if (later) later.before(recipient);
  else to.querySelector(".delivery-to").append(recipient);
  if (from && !from.querySelector(".recipient")) from.remove();
}
