// Browsing the hierarchy: projects, a project (specifications, measurement search), a
// specification (batches, cells), a cell (its measurements), and search over measurements.

import { get } from "../api.js";
import { fmtDate, fmtValue, h, replace, statusBadge, tagChips } from "../dom.js";
import { instanceForm, specForm, toggle } from "../forms.js";
import { nameFilter, pagedList } from "../list.js";
import { crumbs, currentProject, go, rememberProject, section } from "../ui.js";

const TYPE_FILTER = {
  name: "measurement_type",
  label: "Type",
  type: "select",
  options: [
    ["", "All types"],
    ["time_series", "Time series"],
    ["file", "Files"],
    ["properties", "Properties"],
  ],
};
const TAG_FILTER = {
  name: "tags_any",
  label: "Tag",
  type: "search",
  placeholder: "Tag",
  toQuery: (value) => ({ tags_any: value.split(",").map((t) => t.trim()).filter(Boolean) }),
};
const MEASUREMENT_ORDER = [
  ["created_at", "Created"],
  ["name", "Name"],
  ["start_time", "Test start"],
  ["updated_at", "Updated"],
];
const TYPE_NAMES = { time_series: "Time series", file: "Files", properties: "Properties" };

export const measurementColumns = [
  { label: "Name", render: (m) => h("a", { href: `#/measurements/${m.id}` }, m.name) },
  { label: "Type", render: (m) => TYPE_NAMES[m.measurement_type] || m.measurement_type },
  { label: "Status", render: (m) => statusBadge(m.processing_status) },
  { label: "Tags", render: (m) => tagChips(m.tags) },
  { label: "Protocol", render: (m) => m.protocol?.name || "" },
  { label: "Created", class: "nowrap", render: (m) => fmtDate(m.created_at) },
];

export function ratingsText(ratings) {
  return Object.entries(ratings || {})
    .map(([key, value]) => `${key.replaceAll("_", " ")} ${fmtValue(value)}`)
    .join(" · ");
}

function details(pairs) {
  const shown = pairs.filter(([, value]) => value !== undefined && value !== null && value !== "");
  return h(
    "dl",
    { class: "details" },
    shown.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value instanceof Node ? value : String(value))]),
  );
}

function pageHead(title, subtitle, actions) {
  return h(
    "div",
    { class: "page-head" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions ? h("div", { class: "actions" }, actions) : null,
  );
}

export async function projectsView(ctx) {
  const list = pagedList({
    label: "Projects",
    signal: ctx.signal,
    fetchPage: (query, signal) => get("/projects", query, signal),
    filters: [nameFilter],
    orderBy: "name",
    order: "asc",
    empty: "No projects.",
    columns: [
      { label: "Name", render: (p) => h("a", { href: `#/projects/${p.id}` }, p.name) },
      { label: "Description", render: (p) => p.description || "" },
      { label: "Created", class: "nowrap", render: (p) => fmtDate(p.created_at) },
    ],
  });
  replace(ctx.main, pageHead("Projects", `Organization: ${ctx.me?.authorized_organization?.name || ""}`), section("All projects", null, list.el));
}

export async function projectView(ctx) {
  const [projectId] = ctx.params;
  const project = await get(`/projects/${projectId}`, undefined, ctx.signal);
  rememberProject(project.id);
  const specs = pagedList({
    label: "Cell specifications",
    signal: ctx.signal,
    fetchPage: (query, signal) => get("/cell_specifications", { ...query, project_id: project.id }, signal),
    filters: [nameFilter],
    orderBy: "name",
    order: "asc",
    empty: "No cell specifications yet: create one.",
    columns: [
      { label: "Name", render: (s) => h("a", { href: `#/specs/${s.id}` }, s.name) },
      { label: "Form factor", render: (s) => s.form_factor || "" },
      { label: "Manufacturer", render: (s) => s.manufacturer || "" },
      { label: "Ratings", render: (s) => ratingsText(s.ratings) },
      { label: "Created", class: "nowrap", render: (s) => fmtDate(s.created_at) },
    ],
  });
  const newSpec = specForm(project.id, (spec) => go(`#/specs/${spec.id}`));
  const measurements = pagedList({
    label: "Measurements",
    signal: ctx.signal,
    fetchPage: (query, signal) => get("/cell_measurements", { ...query, project_id: project.id }, signal),
    filters: [
      { name: "q", label: "Search", type: "search", placeholder: "Search name, notes, protocol, tags" },
      TYPE_FILTER,
      TAG_FILTER,
    ],
    orderOptions: MEASUREMENT_ORDER,
    empty: "No measurements match.",
    columns: measurementColumns,
  });
  replace(
    ctx.main,
    crumbs([["Projects", "#/projects"], [project.name]]),
    pageHead(project.name, project.description, h("a", { class: "button primary", href: `#/upload?project=${project.id}` }, "Upload data")),
    section("Cell specifications", toggle("New specification", newSpec), newSpec, specs.el),
    section("Measurements", null, measurements.el),
  );
}

export async function specView(ctx) {
  const [specId] = ctx.params;
  const spec = await get(`/cell_specifications/${specId}`, undefined, ctx.signal);
  rememberProject(spec.project_id);
  const [project, batchPage] = await Promise.all([
    get(`/projects/${spec.project_id}`, undefined, ctx.signal),
    get(`/cell_specifications/${spec.id}/cell_batches`, { limit: 1000 }, ctx.signal),
  ]);
  const batches = batchPage.items || [];
  const known = new Set(["id", "name", "project_id", "organization_id", "created_by", "created_at", "updated_at"]);
  const extra = Object.entries(spec).filter(
    ([key, value]) => !known.has(key) && !["ratings", "form_factor", "manufacturer", "created_by_email"].includes(key) && value !== null,
  );
  const ratings = h(
    "table",
    { class: "compact" },
    h("tbody", {}, Object.entries(spec.ratings || {}).map(([key, value]) => h("tr", {}, h("th", {}, key.replaceAll("_", " ")), h("td", {}, fmtValue(value))))),
  );
  const instances = pagedList({
    label: "Cells",
    signal: ctx.signal,
    fetchPage: (query, signal) => get(`/cell_specifications/${spec.id}/cell_instances`, query, signal),
    filters: [
      nameFilter,
      batches.length
        ? {
            name: "batch_id",
            label: "Batch",
            type: "select",
            initial: ctx.query.batch,
            options: [["", "All batches"], ...batches.map((b) => [b.id, b.name])],
          }
        : null,
    ].filter(Boolean),
    orderBy: "name",
    order: "asc",
    empty: "No cells yet: create one.",
    columns: [
      { label: "Name", render: (c) => h("a", { href: `#/instances/${c.id}` }, c.name) },
      { label: "Batch", render: (c) => c.batch_name || "" },
      { label: "Created", class: "nowrap", render: (c) => fmtDate(c.created_at) },
    ],
  });
  const batchList = pagedList({
    label: "Batches",
    signal: ctx.signal,
    fetchPage: (query, signal) => get(`/cell_specifications/${spec.id}/cell_batches`, query, signal),
    filters: [nameFilter],
    orderOptions: [],
    empty: "No batches.",
    columns: [
      { label: "Name", render: (b) => h("a", { href: `#/specs/${spec.id}?batch=${b.id}` }, b.name) },
      { label: "Manufactured", render: (b) => b.date_manufactured || "" },
      { label: "Cells", class: "num", render: (b) => String(b.instance_count ?? "") },
      { label: "Notes", render: (b) => b.notes || "" },
    ],
  });
  const newCell = instanceForm(spec.id, batches, (instance) => go(`#/instances/${instance.id}`));
  replace(
    ctx.main,
    crumbs([["Projects", "#/projects"], [project.name, `#/projects/${project.id}`], [spec.name]]),
    pageHead(spec.name, "Cell specification"),
    section(
      "Specification",
      null,
      h(
        "div",
        { class: "two-col" },
        details([
          ["Form factor", spec.form_factor],
          ["Manufacturer", spec.manufacturer],
          ["Created", `${fmtDate(spec.created_at)}${spec.created_by_email ? ` by ${spec.created_by_email}` : ""}`],
          ...extra.map(([key, value]) => [key.replaceAll("_", " "), fmtValue(value)]),
        ]),
        h("div", {}, h("h3", {}, "Ratings"), Object.keys(spec.ratings || {}).length ? ratings : h("p", { class: "muted" }, "No ratings.")),
      ),
    ),
    section("Cells", toggle("New cell", newCell), newCell, instances.el),
    batches.length ? section("Batches", null, batchList.el) : null,
  );
}

export async function instanceView(ctx) {
  const [instanceId] = ctx.params;
  const instance = await get(`/cell_instances/${instanceId}`, undefined, ctx.signal);
  rememberProject(instance.project_id);
  const [spec, project] = await Promise.all([
    get(`/cell_specifications/${instance.cell_specification_id}`, undefined, ctx.signal),
    get(`/projects/${instance.project_id}`, undefined, ctx.signal),
  ]);
  const known = new Set([
    "id", "name", "cell_specification_id", "project_id", "organization_id", "batch_id", "batch_name",
    "created_by", "created_by_email", "created_at", "updated_at", "measurement_ids",
  ]);
  const extra = Object.entries(instance).filter(([key, value]) => !known.has(key) && value !== null);
  const measurements = pagedList({
    label: "Measurements",
    signal: ctx.signal,
    fetchPage: (query, signal) => get(`/cell_instances/${instance.id}/cell_measurements`, query, signal),
    filters: [nameFilter, TYPE_FILTER, TAG_FILTER],
    orderOptions: MEASUREMENT_ORDER,
    empty: "No measurements yet: upload one.",
    columns: measurementColumns,
  });
  replace(
    ctx.main,
    crumbs([
      ["Projects", "#/projects"],
      [project.name, `#/projects/${project.id}`],
      [spec.name, `#/specs/${spec.id}`],
      [instance.name],
    ]),
    pageHead(instance.name, `Cell of ${spec.name}`, h("a", { class: "button primary", href: `#/upload?instance=${instance.id}` }, "Upload data")),
    section(
      "Cell",
      null,
      details([
        ["Specification", h("a", { href: `#/specs/${spec.id}` }, spec.name)],
        ["Batch", instance.batch_name],
        ["Created", `${fmtDate(instance.created_at)}${instance.created_by_email ? ` by ${instance.created_by_email}` : ""}`],
        ...extra.map(([key, value]) => [key.replaceAll("_", " "), fmtValue(value)]),
      ]),
    ),
    section("Measurements", null, measurements.el),
  );
}

export async function searchView(ctx) {
  const projects = (await get("/projects", { limit: 1000, order_by: "name", order: "asc" }, ctx.signal)).items || [];
  if (!projects.length) {
    replace(ctx.main, h("p", { class: "muted" }, "You have no project to search in."));
    return;
  }
  const chosen = projects.find((p) => p.id === (ctx.query.project || currentProject())) || projects[0];
  rememberProject(chosen.id);
  const projectSelect = h(
    "select",
    { name: "project", "aria-label": "Project" },
    projects.map((p) => h("option", { value: p.id, selected: p.id === chosen.id }, p.name)),
  );
  projectSelect.addEventListener("change", () => {
    go(`#/search?${new URLSearchParams({ project: projectSelect.value, q: ctx.query.q || "" })}`);
  });
  const results = pagedList({
    label: "Search results",
    signal: ctx.signal,
    fetchPage: (query, signal) => get("/cell_measurements", { ...query, project_id: chosen.id }, signal),
    filters: [
      { name: "q", label: "Search", type: "search", initial: ctx.query.q, placeholder: "Search name, notes, protocol, tags" },
      TYPE_FILTER,
      TAG_FILTER,
    ],
    orderOptions: MEASUREMENT_ORDER,
    empty: "No measurement matches.",
    columns: measurementColumns,
  });
  const box = document.querySelector("#search input");
  if (box && ctx.query.q) box.value = ctx.query.q;
  replace(
    ctx.main,
    crumbs([["Projects", "#/projects"], [chosen.name, `#/projects/${chosen.id}`], ["Search"]]),
    pageHead("Search measurements", "Over names, notes, protocol names and tags.", projects.length > 1 ? projectSelect : null),
    section("Results", null, results.el),
  );
}
