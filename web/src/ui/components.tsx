// Small shared components: labelled fields, messages, money, paging. Every
// input has a visible label; messages that appear after an action are in a
// live region so screen readers hear them.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { errorMessage } from "./errors";
import { formatMoney, formatSignedMoney, type Minor } from "./money";
import { formatDuration, type ProblemContext } from "./problems";
import { hasNavigated } from "./router";
import { useNow } from "./hooks";

const APP_NAME = typeof document === "undefined" ? "Croupier" : document.title || "Croupier";

/** A screen: its h1 names it, sets the tab title, and takes focus after in-app navigation. */
export function Page({ title, children, wide }: { title: string; children?: ComponentChildren; wide?: boolean }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ${APP_NAME}`;
    if (hasNavigated()) heading.current?.focus();
  }, [title]);
  return (
    <section class={wide ? "page page-wide" : "page"} aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={heading}>
        {title}
      </h1>
      {children}
    </section>
  );
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "value" | "onInput" | "label">;

interface FieldProps {
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string | null;
}

/** The ids that tie a field's hint and error to its input. */
function useFieldIds(hint: unknown, error: unknown) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return { id, describedBy };
}

function FieldNotes({ id, hint, error }: { id: string; hint?: ComponentChildren; error?: string | null }) {
  return (
    <>
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </>
  );
}

export function TextField({
  label,
  hint,
  error,
  value,
  onValue,
  ...input
}: FieldProps & InputProps & { value: string; onValue(v: string): void }) {
  const { id, describedBy } = useFieldIds(hint, error);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        type="text"
        {...input}
        id={id}
        value={value}
        onInput={(e) => onValue(e.currentTarget.value)}
        aria-describedby={describedBy}
        aria-invalid={error ? true : undefined}
      />
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

export function SelectField({
  label,
  hint,
  error,
  value,
  onValue,
  options,
  disabled,
}: FieldProps & { value: string; onValue(v: string): void; options: readonly Option[]; disabled?: boolean }) {
  const { id, describedBy } = useFieldIds(hint, error);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} onChange={(e) => onValue(e.currentTarget.value)} aria-describedby={describedBy}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

export function CheckboxField({
  label,
  hint,
  checked,
  onChecked,
  disabled,
}: FieldProps & { checked: boolean; onChecked(v: boolean): void; disabled?: boolean }) {
  const { id, describedBy } = useFieldIds(hint, null);
  return (
    <div class="field field-check">
      <input id={id} type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChecked(e.currentTarget.checked)} aria-describedby={describedBy} />
      <label for={id}>{label}</label>
      <FieldNotes id={id} hint={hint} />
    </div>
  );
}

/** A set of radio buttons in a fieldset (over/under, heads/tails, risk). */
export function RadioGroup({
  legend,
  name,
  value,
  onValue,
  options,
  disabled,
}: {
  legend: string;
  name: string;
  value: string;
  onValue(v: string): void;
  options: readonly Option[];
  disabled?: boolean;
}) {
  const id = useId();
  return (
    <fieldset class="radio-group" disabled={disabled}>
      <legend>{legend}</legend>
      {options.map((o) => (
        <span class="radio" key={o.value}>
          <input type="radio" id={`${id}-${o.value}`} name={`${name}-${id}`} value={o.value} checked={value === o.value} onChange={() => onValue(o.value)} />
          <label for={`${id}-${o.value}`}>{o.label}</label>
        </span>
      ))}
    </fieldset>
  );
}

/** The error of a failed action or load, announced; with a retry that resends the same request. */
export function ErrorNote({ error, context, onRetry }: { error: unknown; context?: ProblemContext; onRetry?: () => void }) {
  if (error === null || error === undefined) return null;
  return (
    <div class="note note-error" role="alert">
      <span>{errorMessage(error, context)}</span>
      {onRetry ? (
        <button type="button" class="button-small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

/** A success or info line, announced politely. */
export function Notice({ children, kind = "info" }: { children: ComponentChildren; kind?: "info" | "success" | "warning" }) {
  return (
    <p class={`note note-${kind}`} role="status">
      {children}
    </p>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

export function Money({ amount, currency, signed }: { amount: Minor; currency: string; signed?: boolean }) {
  const text = signed ? formatSignedMoney(amount, currency) : formatMoney(amount, currency);
  const sign = BigInt(amount) > 0n ? "pos" : BigInt(amount) < 0n ? "neg" : "zero";
  return <span class={signed ? `money money-${sign}` : "money"}>{text}</span>;
}

/** "Newer / Older" paging over cursors. */
export function Pager({
  label,
  hasPrevious,
  nextCursor,
  onPrevious,
  onNext,
  page,
}: {
  label: string;
  hasPrevious: boolean;
  nextCursor: string | null | undefined;
  onPrevious(): void;
  onNext(cursor: string): void;
  page: number;
}) {
  if (!hasPrevious && !nextCursor) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" onClick={onPrevious} disabled={!hasPrevious}>
        ← Newer
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={() => nextCursor && onNext(nextCursor)} disabled={!nextCursor}>
        Older →
      </button>
    </nav>
  );
}

/** Time left until `until` (ISO), ticking; `done` once it has passed. */
export function Countdown({ until, done }: { until: string; done: ComponentChildren }) {
  const now = useNow(1000);
  const left = Date.parse(until) - now;
  if (!(left > 0)) return <>{done}</>;
  return <span class="countdown">{formatDuration(left)}</span>;
}

/** A button for a destructive action that asks again, inline, before doing it. */
export function ConfirmButton({
  children,
  confirm,
  onConfirm,
  disabled,
}: {
  children: ComponentChildren;
  confirm: string;
  onConfirm(): void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="button-small" disabled={disabled} onClick={() => setAsking(true)}>
        {children}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={confirm}>
      <span>{confirm}</span>
      <button
        type="button"
        class="button-small button-danger"
        ref={yes}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes
      </button>
      <button type="button" class="button-small" onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}

/** A table that scrolls sideways on narrow screens, reachable by keyboard. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

/** A progress bar with its numbers in words. */
export function ProgressBar({ value, max, label }: { value: number; max: number; label: string }) {
  return <progress class="progress" value={Math.min(value, max)} max={max} aria-label={label} />;
}
