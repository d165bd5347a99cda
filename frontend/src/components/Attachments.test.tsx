import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Attachment } from '../api/types';
import { formatSize, previewKind } from '../api/files';
import { Attachments } from './Attachments';

const img: Attachment = { id: '1', name: 'photo.jpg', contentType: 'image/jpeg', size: 2_400_000, width: 1600, height: 1200, url: '/files/1/photo.jpg', previewUrl: '/files/1/photo.jpg?preview=1' };
const code: Attachment = { id: '2', name: 'main.go', contentType: 'text/plain', size: 120, url: '/files/2/main.go', snippet: 'package main\n\nfunc main() {}' };
const zip: Attachment = { id: '3', name: 'site.zip', contentType: 'application/zip', size: 5000, url: '/files/3/site.zip' };
const video: Attachment = { id: '4', name: 'clip.mp4', contentType: 'video/mp4', size: 9000, url: '/files/4/clip.mp4' };

describe('Attachments', () => {
  // A text file's snippet is highlighted by a lazily imported module: loaded here first, so no test's import of it
  // can still be running when the file's environment is torn down (vitest reports that as an unhandled error).
  beforeAll(async () => {
    await import('./Highlight');
  });

  it('reserves an image box from its dimensions and opens a lightbox', async () => {
    render(<Attachments items={[img]} />);
    const el = screen.getByTestId('attachment-image') as HTMLImageElement;
    expect(el.getAttribute('width')).toBe('400');
    expect(el.getAttribute('height')).toBe('300');
    expect(el.getAttribute('src')).toBe(img.previewUrl);
    await userEvent.click(screen.getByRole('button', { name: 'Open photo.jpg' }));
    expect((await screen.findByTestId('lightbox')).querySelector('img')!.getAttribute('src')).toBe(img.url);
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByTestId('lightbox')).toBeNull();
  });

  it('shows text files with their first lines, others as a download card, video with a player', () => {
    render(<Attachments items={[code, zip, video]} />);
    expect(screen.getByTestId('attachment-snippet').textContent).toContain('func main() {}');
    const links = screen.getAllByTestId('attachment-download') as HTMLAnchorElement[];
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['/files/2/main.go?download=1', '/files/3/site.zip?download=1']);
    expect(screen.getByTestId('attachment-video').querySelector('video')!.getAttribute('src')).toBe(video.url);
    expect(screen.getByTestId('attachment-video').querySelector('video')!.hasAttribute('poster')).toBe(false);
  });

  it("shows a video's poster frame when the server made one", () => {
    render(<Attachments items={[{ ...video, width: 480, height: 270, previewUrl: '/files/4/clip.mp4?preview=1' }]} />);
    expect(screen.getByTestId('attachment-video').querySelector('video')!.getAttribute('poster')).toBe('/files/4/clip.mp4?preview=1');
  });

  it('formats sizes and picks preview kinds', () => {
    expect(formatSize(500)).toBe('500 B');
    expect(formatSize(2048)).toBe('2.0 KB');
    expect(formatSize(25 * 1024 * 1024)).toBe('25 MB');
    expect(previewKind({ contentType: 'image/svg+xml' })).toBe('file'); // no preview image: never shown inline
    expect(previewKind({ contentType: 'audio/mpeg' })).toBe('audio');
  });
});
