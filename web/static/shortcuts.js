// The list of keys behind "?", shared by the main page (app.js) and the
// large-trace view (big.js), so that both read and look the same: a
// <dl class="keys"> of <kbd> keys and what they do, in a modal <dialog>
// that Escape closes (the browser's own behaviour of a modal dialog).

// fillKeys appends to dl one row per shortcut, each [[key, ...], what]:
// the keys as <kbd>s in a <dt>, what they do in a <dd>.
export function fillKeys(dl, shortcuts) {
  for (const [keys, what] of shortcuts) {
    const dt = document.createElement('dt');
    for (const k of keys) {
      const kbd = document.createElement('kbd');
      kbd.textContent = k;
      dt.append(kbd);
    }
    const dd = document.createElement('dd');
    dd.textContent = what;
    dl.append(dt, dd);
  }
}

// keysDialog returns a new modal dialog titled title that lists shortcuts
// (as fillKeys does), then a paragraph for each of notes, then a Close
// button that has the focus when it opens. The caller appends it to the
// page and opens it with showModal.
export function keysDialog(title, shortcuts, notes = []) {
  const dialog = document.createElement('dialog');
  const h = document.createElement('h2');
  h.id = `keys-title-${++dialogs}`;
  h.textContent = title;
  dialog.setAttribute('aria-labelledby', h.id);
  const dl = document.createElement('dl');
  dl.className = 'keys';
  fillKeys(dl, shortcuts);
  dialog.append(h, dl);
  for (const text of notes) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = text;
    dialog.append(p);
  }
  const form = document.createElement('form');
  form.method = 'dialog';
  const close = document.createElement('button');
  close.className = 'primary';
  close.autofocus = true;
  close.textContent = 'Close';
  form.append(close);
  dialog.append(form);
  return dialog;
}

// dialogs numbers the dialogs made, for their titles' ids.
let dialogs = 0;
