/** Bidi embedding/override (U+202A–U+202E) and isolate (U+2066–U+2069) controls. */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** Removes the controls that change text direction beyond themselves, so a message cannot flip the text around
 *  it or disguise a file name (invoice_\u202Efdp.exe). Right-to-left text itself is untouched. */
export function stripBidiControls(s: string): string {
  return s.replace(BIDI_CONTROLS, '');
}

/** Bidi controls, direction marks and invisible spaces: what makes a name look like another or reorder the text
 *  around it. The server refuses them in new display names; names stored earlier are cleaned when shown. */
const NAME_INVISIBLES = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u200B\u2060\uFEFF]/g;

export function cleanName(s: string): string {
  return s.replace(NAME_INVISIBLES, '');
}
