/** Copies text, falling back to selecting it in an input (no clipboard permission over plain HTTP). */
export async function copyText(text: string, fallback?: HTMLInputElement | null): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    fallback?.select();
    document.execCommand?.('copy');
  }
}
