/// <reference lib="dom" />
import type { GracePeriod } from '../client/generated/graphql.js';
import { type Child, h, mount } from './dom.js';
import { errorBox } from './error-messages.js';
import { GRACE_CHOICES } from './labels.js';

export interface DialogOptions {
  title: string;
  testid: string;
  body: Child;
  confirmLabel: string;
  danger?: boolean;
  /** Runs on confirm; an error is shown in the dialog and keeps it open. */
  onConfirm(): Promise<void>;
}

/** A modal with Cancel and a confirm button; the action runs once, errors stay in the dialog. */
export function openDialog(options: DialogOptions): HTMLDialogElement {
  const errorArea = h('div', { class: 'dialog-error' });
  const cancel = h(
    'button',
    { type: 'button', class: 'button ghost', testid: 'dialog-cancel', onclick: () => close() },
    'Cancel',
  );
  const confirm = h(
    'button',
    { type: 'submit', class: options.danger ? 'button danger' : 'button primary', testid: 'dialog-confirm' },
    options.confirmLabel,
  );
  const form = h(
    'form',
    {
      method: 'dialog',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        confirm.disabled = true;
        cancel.disabled = true;
        mount(errorArea);
        try {
          await options.onConfirm();
          close();
        } catch (error) {
          mount(errorArea, errorBox(error));
          confirm.disabled = false;
          cancel.disabled = false;
        }
      },
    },
    h('h2', {}, options.title),
    h('div', { class: 'dialog-body' }, options.body),
    errorArea,
    h('div', { class: 'dialog-actions' }, cancel, confirm),
  );
  const dialog = h('dialog', { class: 'dialog', testid: options.testid }, form);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.addEventListener('cancel', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Radio buttons for a grace period; returns the group and a getter for the choice. */
export function graceChoices(name: string, initial: GracePeriod = 'ONE_HOUR'): { element: HTMLElement; value(): GracePeriod } {
  const element = h(
    'fieldset',
    { class: 'choices', testid: 'grace-choices' },
    h('legend', {}, 'The old key stops working'),
    GRACE_CHOICES.map((choice) =>
      h(
        'label',
        { class: 'choice' },
        h('input', {
          type: 'radio',
          name,
          value: choice.value,
          checked: choice.value === initial,
          testid: `grace-${choice.value}`,
        }),
        choice.label,
      ),
    ),
  );
  return {
    element,
    value: () => (element.querySelector<HTMLInputElement>('input:checked')?.value ?? initial) as GracePeriod,
  };
}

async function copyText(text: string, source: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (e.g. plain http on another host): select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    return document.execCommand('copy');
  }
}

/** A button that copies a text and says whether it worked. */
export function copyButton(text: () => string, source: () => HTMLElement, testid = 'copy'): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: 'button small',
      testid,
      onclick: async () => {
        const copied = await copyText(text(), source());
        button.textContent = copied ? 'Copied' : 'Select and copy';
        setTimeout(() => {
          button.textContent = 'Copy';
        }, 2000);
      },
    },
    'Copy',
  );
  return button;
}

/** Shows a new secret (a key's, by default) once, with a copy button; nothing keeps it after the dialog closes. */
export function showSecretOnce(title: string, secret: string, note: Child, what = 'key'): void {
  const value = h('code', { class: 'secret', testid: 'secret-once-value' }, secret);
  const done = h('button', { type: 'submit', class: 'button primary', testid: 'secret-once-done' }, 'I have copied it');
  const dialog = h(
    'dialog',
    { class: 'dialog', testid: 'secret-once' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', {}, title),
      h(
        'div',
        { class: 'dialog-body' },
        h('p', { class: 'alert alert-warning' }, `Copy this ${what} now: it is shown only once.`),
        h(
          'div',
          { class: 'secret-row' },
          value,
          copyButton(
            () => secret,
            () => value,
            'secret-once-copy',
          ),
        ),
        h('p', { class: 'muted' }, note),
      ),
      h('div', { class: 'dialog-actions' }, done),
    ),
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
