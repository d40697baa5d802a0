// Short-lived announcements (a reward granted, a balance adjusted) in one
// polite live region that is always in the page.
import { createStore, useStore } from "./store";

interface Toast {
  id: number;
  text: string;
}

const toasts = createStore<Toast[]>([]);
let nextId = 1;

export function toast(text: string, ms = 6000): void {
  const id = nextId++;
  toasts.update((list) => [...list.slice(-3), { id, text }]);
  setTimeout(() => toasts.update((list) => list.filter((t) => t.id !== id)), ms);
}

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <p class="toast" key={t.id}>
          {t.text}
        </p>
      ))}
    </div>
  );
}
