import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Attachment } from '../api/types';
import { Composer, type Uploader } from './Composer';
import { loadParts } from './lazy';

const limits = { maxSize: 1000, maxPerMessage: 3, types: [] };

function attachment(name: string): Attachment {
  return { id: 'a-' + name, name, contentType: 'text/plain', size: 5, url: `/files/1/${name}` };
}

/** An uploader whose uploads the test finishes by hand. */
function manualUploader() {
  const calls: { file: File; progress: (f: number) => void; signal: AbortSignal; resolve: (a: Attachment) => void; reject: (e: Error) => void }[] = [];
  const uploader: Uploader = (file, progress, signal) =>
    new Promise((resolve, reject) => {
      calls.push({ file, progress, signal, resolve, reject });
    });
  return { uploader, calls };
}

function setup(uploader?: Uploader) {
  const onSend = vi.fn();
  render(
    <Composer channelId={'c-' + Math.random()} placeholder="Message #general" onSend={onSend} onTyping={() => undefined} uploader={uploader} limits={limits} />,
  );
  return { onSend, box: screen.getByTestId('composer-input') as HTMLTextAreaElement };
}

const file = (name: string, size = 5, type = 'text/plain') => new File(['x'.repeat(size)], name, { type });

describe('Composer uploads', () => {
  // The upload code is a lazy chunk; here it is loaded, as after the prefetch that follows the first paint
  // (Composer.uploads.lazy.test.tsx covers files that come before it).
  beforeAll(() => loadParts('composerUploads'));

  it('has no attach button without an uploader', () => {
    setup();
    expect(screen.queryByTestId('composer-attach')).toBeNull();
  });

  it('uploads picked files with progress, waits for them, then sends them with the text', async () => {
    const user = userEvent.setup();
    const { uploader, calls } = manualUploader();
    const { onSend, box } = setup(uploader);
    await user.upload(screen.getByTestId('composer-file-input') as HTMLInputElement, [file('a.txt'), file('b.txt')]);
    expect(calls.map((c) => c.file.name)).toEqual(['a.txt', 'b.txt']);
    act(() => calls[0].progress(0.5));
    const bars = screen.getAllByTestId('upload-progress') as HTMLProgressElement[];
    expect(bars[0].value).toBe(0.5);
    await user.type(box, 'two files{Enter}');
    expect(onSend).not.toHaveBeenCalled(); // still uploading
    expect((screen.getByTestId('composer-send') as HTMLButtonElement).disabled).toBe(true);
    await act(async () => {
      calls[0].resolve(attachment('a.txt'));
      calls[1].resolve(attachment('b.txt'));
    });
    await user.type(box, '{Enter}');
    expect(onSend).toHaveBeenCalledWith('two files', [attachment('a.txt'), attachment('b.txt')]);
    expect(screen.queryByTestId('upload-tray')).toBeNull();
  });

  it('sends files without text', async () => {
    const user = userEvent.setup();
    const { uploader, calls } = manualUploader();
    const { onSend } = setup(uploader);
    await user.upload(screen.getByTestId('composer-file-input') as HTMLInputElement, file('a.txt'));
    await act(async () => calls[0].resolve(attachment('a.txt')));
    await user.click(screen.getByTestId('composer-send'));
    expect(onSend).toHaveBeenCalledWith('', [attachment('a.txt')]);
  });

  it('refuses a file that is too big or empty, and files beyond the per-message limit, without uploading them', async () => {
    const user = userEvent.setup();
    const { uploader, calls } = manualUploader();
    setup(uploader);
    await user.upload(screen.getByTestId('composer-file-input') as HTMLInputElement, [
      file('big.bin', 2000),
      file('ok1.txt'),
      file('ok2.txt'),
      file('ok3.txt'),
      file('four.txt'),
    ]);
    const errors = screen.getAllByTestId('upload-error').map((e) => e.textContent);
    expect(errors[0]).toMatch(/big\.bin is too big \(2\.0 KB\); files can be at most 1000 B/);
    expect(errors[1]).toMatch(/At most 3 files per message/);
    expect(calls.map((c) => c.file.name)).toEqual(['ok1.txt', 'ok2.txt', 'ok3.txt']);
  });

  it('shows the server refusal and cancels an upload in flight', async () => {
    const user = userEvent.setup();
    const { uploader, calls } = manualUploader();
    setup(uploader);
    await user.upload(screen.getByTestId('composer-file-input') as HTMLInputElement, [file('tool.exe'), file('slow.txt')]);
    await act(async () => calls[0].reject(new Error('files of this type (application/x-elf) are not allowed')));
    expect(screen.getByTestId('upload-error').textContent).toContain('not allowed');
    const slow = screen.getAllByTestId('upload-item').find((li) => li.dataset.name === 'slow.txt')!;
    await user.click(within(slow).getByRole('button', { name: 'Cancel uploading slow.txt' }));
    expect(calls[1].signal.aborted).toBe(true);
    expect(screen.getAllByTestId('upload-item')).toHaveLength(1);
  });

  it('takes a pasted image as a file', async () => {
    const { uploader, calls } = manualUploader();
    const { box } = setup(uploader);
    const png = file('image.png', 10, 'image/png');
    fireEvent.paste(box, { clipboardData: { files: [png], getData: () => '' } });
    expect(calls.map((c) => c.file.name)).toEqual(['image.png']);
  });
});
