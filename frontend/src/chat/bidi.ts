/** Bidi embedding/override (U+202A–U+202E) and isolate (U+2066–U+2069) controls. */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** Removes the controls that change text direction beyond themselves, so a message cannot flip the text around
 *  it or disguise a file name (invoice_\u202Efdp.exe). Right-to-left text itself is untouched. */
export function stripBidiControls(s: string): string {
  return s.replace(BIDI_CONTROLS, '');
}
