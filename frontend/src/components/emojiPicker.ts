// The full emoji picker, a chunk of its own (imported lazily by ReactionPicker).
export { default } from 'emoji-picker-react';
