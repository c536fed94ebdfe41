// A paged, filterable, sortable table over one of the API's list endpoints ({items, count, total}).

import { debounce, h, replace } from "./dom.js";

export const nameFilter = {
  name: "name",
  label: "Name",
  type: "search",
  placeholder: "Filter by name",
  toQuery: (value) => ({ name: `ilike.%${value}%` }),
};

export function pagedList({
  fetchPage,
  columns,
  filters = [],
  orderOptions = [
    ["created_at", "Created"],
    ["name", "Name"],
    ["updated_at", "Updated"],
  ],
  orderBy = "created_at",
  order = "desc",
  limit = 50,
  empty = "Nothing here yet.",
  label,
  signal,
}) {
  const state = { offset: 0, orderBy, order, values: {} };
  let controller = null;

  const body = h("tbody");
  const status = h("div", { class: "list-status", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "small", onclick: () => move(-1) }, "‹ Previous");
  const next = h("button", { type: "button", class: "small", onclick: () => move(1) }, "Next ›");
  const reloadSoon = debounce(() => {
    state.offset = 0;
    load();
  }, 250);

  const controls = filters.map((filter) => {
    let input;
    if (filter.type === "select") {
      input = h(
        "select",
        { name: filter.name, "aria-label": filter.label },
        filter.options.map(([value, text]) => h("option", { value }, text)),
      );
      input.addEventListener("change", reloadSoon);
    } else {
      input = h("input", {
        type: filter.type || "search",
        name: filter.name,
        placeholder: filter.placeholder || filter.label,
        "aria-label": filter.label,
      });
      input.addEventListener("input", reloadSoon);
    }
    if (filter.initial) input.value = filter.initial;
    input.addEventListener("change", () => {
      state.values[filter.name] = input.value.trim();
    });
    input.addEventListener("input", () => {
      state.values[filter.name] = input.value.trim();
    });
    return input;
  });
  const orderSelect = h(
    "select",
    { name: "order_by", "aria-label": "Sort by", onchange: reloadSoon },
    orderOptions.map(([value, text]) => h("option", { value, selected: value === orderBy }, `Sort: ${text}`)),
  );
  const directionSelect = h(
    "select",
    { name: "order", "aria-label": "Sort direction", onchange: reloadSoon },
    h("option", { value: "desc", selected: order === "desc" }, "Descending"),
    h("option", { value: "asc", selected: order === "asc" }, "Ascending"),
  );

  const el = h(
    "div",
    { class: "list", "aria-label": label },
    h("div", { class: "filters" }, controls, orderOptions.length ? [orderSelect, directionSelect] : null),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            columns.map((c) => h("th", { class: c.class }, c.label)),
          ),
        ),
        body,
      ),
    ),
    h("div", { class: "pager" }, status, h("span", { class: "pager-buttons" }, prev, next)),
  );

  function move(direction) {
    state.offset = Math.max(0, state.offset + direction * limit);
    load();
  }

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    signal?.addEventListener("abort", () => mine.abort());
    const query = { limit, offset: state.offset };
    if (orderOptions.length) {
      query.order_by = orderSelect.value;
      query.order = directionSelect.value;
    }
    filters.forEach((filter, i) => {
      const value = controls[i].value.trim();
      if (value) Object.assign(query, filter.toQuery ? filter.toQuery(value) : { [filter.name]: value });
    });
    el.classList.add("loading");
    try {
      const page = await fetchPage(query, mine.signal);
      if (mine.signal.aborted) return;
      const items = page.items || [];
      const total = page.total ?? items.length;
      replace(
        body,
        items.length
          ? items.map((item) =>
              h(
                "tr",
                {},
                columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.render(item))),
              ),
            )
          : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)),
      );
      const first = items.length ? state.offset + 1 : 0;
      replace(status, total ? `${first}–${state.offset + items.length} of ${total}` : "");
      prev.disabled = state.offset === 0;
      next.disabled = state.offset + items.length >= total;
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(
        body,
        h("tr", {}, h("td", { colspan: columns.length, class: "error" }, `Could not load: ${error.message}`)),
      );
      replace(status, "");
    } finally {
      el.classList.remove("loading");
    }
  }

  load();
  return { el, reload: load };
}
