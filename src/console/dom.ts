/// <reference lib="dom" />

/** What `h` accepts as children: nodes, text, and nothing (null, false) for conditional parts. */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

type Handler = (event: Event) => void;

/** Element properties: `testid` becomes `data-testid`, `on*` functions become listeners, the rest attributes or properties. */
export type Props = Record<string, unknown> & { testid?: string; class?: string };

// Set as DOM properties, not attributes, so they reflect live state.
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open']);

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
    return;
  }
  parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
}

/** Creates an element; text is always inserted as text (never parsed as HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) {
      if (PROPERTIES.has(key)) Reflect.set(element, key, false);
      continue;
    }
    if (key === 'testid') element.dataset.testid = String(value);
    else if (key === 'class') element.className = String(value);
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value as Handler);
    else if (PROPERTIES.has(key)) Reflect.set(element, key, value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
