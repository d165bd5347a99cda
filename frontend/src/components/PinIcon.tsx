/** A pushpin (an SVG: the 📌 emoji is missing from many system fonts). */
export function PinIcon({ size = 20 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className="pin-icon">
      <path
        fill="currentColor"
        d="M14.5 2.5 21.5 9.5 20 11l-2.5-.5-3.8 3.8.8 4.2-1.5 1.5-4.1-4.1L4 21.3 2.7 20l5.9-5L4.5 10.9 6 9.4l4.2.8L14 6.4l-.5-2.5z"
      />
    </svg>
  );
}
