// One measurement: status, tags, edit and delete, and by type its plots and step table, its
// files, or its property table.

import { blob, del, get, patch, signedUrl } from "../api.js";
import { fmtDate, fmtDuration, fmtNumber, fmtValue, h, replace, statusBadge } from "../dom.js";
import { cyclePlots, dqdvPlot, timeSeriesPlot } from "../plots.js";
import { waitForProcessing } from "../upload.js";
import { confirmAction, crumbs, formError, go, rememberProject, section, showBanner } from "../ui.js";

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;
const OWN_FIELDS = new Set([
  "id", "name", "cell_instance_id", "project_id", "organization_id", "measurement_type", "processing_status",
  "processing_error", "tags", "notes", "protocol", "test_setup", "start_time", "end_time", "properties",
  "file_metadata", "step_labels_validated", "channel_id", "protocol_id", "created_by", "created_by_email",
  "created_at", "updated_at",
]);
const STEP_COLUMNS = [
  ["Step count", "Step"],
  ["Cycle count", "Cycle"],
  ["Step type", "Type"],
  ["Start time [s]", "Start [s]"],
  ["Duration [s]", "Duration"],
  ["Start voltage [V]", "Start V"],
  ["End voltage [V]", "End V"],
  ["Mean current [A]", "Mean I [A]"],
  ["Discharge capacity [A.h]", "Dis. cap. [A.h]"],
  ["Charge capacity [A.h]", "Ch. cap. [A.h]"],
];

async function download(path, query) {
  try {
    const target = await signedUrl(path, query);
    const link = h("a", { href: target, download: "" });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    showBanner(error.message);
  }
}

function jsonBlock(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

function tagEditor(measurement, onChange) {
  const chips = h("span", { class: "tags editable", id: "tag-list" });
  const error = formError();
  const input = h("input", { name: "tag", placeholder: "Add a tag", maxlength: 50, "aria-label": "New tag" });
  const add = h("button", { type: "submit", class: "small" }, "Add tag");

  async function save(tags) {
    error.show("");
    try {
      const updated = await patch(`/cell_measurements/${measurement.id}`, { tags });
      measurement.tags = updated.tags;
      render();
      onChange(updated);
      return true;
    } catch (failure) {
      error.show(failure.message);
      return false;
    }
  }
  function render() {
    replace(
      chips,
      measurement.tags.length ? null : h("span", { class: "muted" }, "No tags."),
      measurement.tags.map((tag) =>
        h(
          "span",
          { class: "tag", "data-tag": tag },
          tag,
          h(
            "button",
            {
              type: "button",
              class: "remove",
              "aria-label": `Remove tag ${tag}`,
              title: "Remove",
              onclick: () => save(measurement.tags.filter((t) => t !== tag)),
            },
            "×",
          ),
        ),
      ),
    );
  }
  const form = h("form", { class: "tag-form" }, input, add);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tag = input.value.trim();
    if (!tag) return;
    add.disabled = true;
    if (await save([...measurement.tags, tag])) input.value = "";
    add.disabled = false;
  });
  render();
  return h("div", { class: "tag-editor" }, chips, form, error.el);
}

function editForm(measurement, onSaved) {
  const name = h("input", { name: "name", value: measurement.name, required: true, maxlength: 255 });
  const notes = h("textarea", { name: "notes", rows: 3 });
  notes.value = measurement.notes || "";
  const error = formError();
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Edit measurement" },
    h(
      "div",
      { class: "fields wide" },
      h("label", { class: "field" }, h("span", {}, "Name"), name),
      h("label", { class: "field" }, h("span", {}, "Notes"), notes),
    ),
    error.el,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => (form.hidden = true) }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Save"),
    ),
  );
  form.hidden = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const updated = await patch(`/cell_measurements/${measurement.id}`, {
        name: name.value.trim(),
        notes: notes.value.trim() ? notes.value : null,
      });
      form.hidden = true;
      onSaved(updated);
    } catch (failure) {
      error.show(failure.message);
    }
  });
  return form;
}

function metadataSection(m, instance) {
  const custom = Object.entries(m).filter(([key, value]) => !OWN_FIELDS.has(key) && value !== null);
  const rows = [
    ["Type", m.measurement_type.replace("_", " ")],
    ["Cell", h("a", { href: `#/instances/${instance.id}` }, instance.name)],
    ["Test start", m.start_time ? fmtDate(m.start_time) : ""],
    ["Test end", m.end_time ? fmtDate(m.end_time) : ""],
    ["Protocol", m.protocol?.name || ""],
    ["Created", `${fmtDate(m.created_at)}${m.created_by_email ? ` by ${m.created_by_email}` : ""}`],
    ["Updated", fmtDate(m.updated_at)],
    ["Step labels validated", m.measurement_type === "time_series" ? (m.step_labels_validated ? "yes" : "no") : ""],
    ["Id", h("code", {}, m.id)],
    ...custom.map(([key, value]) => [key.replaceAll("_", " "), fmtValue(value)]),
  ].filter(([, value]) => value !== "" && value !== null && value !== undefined);
  return section(
    "Metadata",
    null,
    h("div", { class: "two-col" }, h("dl", { class: "details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])), h(
      "div",
      {},
      h("h3", {}, "Notes"),
      m.notes ? h("p", { class: "notes" }, m.notes) : h("p", { class: "muted" }, "No notes."),
    )),
    m.protocol ? [h("h3", {}, "Protocol"), jsonBlock(m.protocol)] : null,
    m.test_setup ? [h("h3", {}, "Test setup"), jsonBlock(m.test_setup)] : null,
  );
}

function stepTable(steps) {
  const columns = STEP_COLUMNS.filter(([key]) => key in steps);
  const count = (steps["Step count"] || []).length;
  const pageSize = 50;
  let offset = 0;
  const body = h("tbody");
  const status = h("span");
  const prev = h("button", { type: "button", class: "small", onclick: () => move(-1) }, "‹ Previous");
  const next = h("button", { type: "button", class: "small", onclick: () => move(1) }, "Next ›");
  const cell = (key, i) => {
    const value = steps[key][i];
    if (key === "Duration [s]") return fmtDuration(value);
    if (key === "Step type") return h("span", { class: `step-type ${String(value).split(" ")[0].toLowerCase()}` }, value ?? "");
    return typeof value === "number" ? fmtNumber(value) : (value ?? "");
  };
  function render() {
    const end = Math.min(count, offset + pageSize);
    const rows = [];
    for (let i = offset; i < end; i += 1) {
      rows.push(h("tr", {}, columns.map(([key, label]) => h("td", { "data-label": label }, cell(key, i)))));
    }
    replace(body, rows);
    replace(status, count ? `${offset + 1}–${end} of ${count} steps` : "No steps.");
    prev.disabled = offset === 0;
    next.disabled = end >= count;
  }
  function move(direction) {
    offset = Math.max(0, offset + direction * pageSize);
    render();
  }
  render();
  return h(
    "div",
    { class: "list" },
    h(
      "div",
      { class: "table-wrap" },
      h("table", { id: "steps" }, h("thead", {}, h("tr", {}, columns.map(([, label]) => h("th", {}, label)))), body),
    ),
    h("div", { class: "pager" }, status, h("span", { class: "pager-buttons" }, prev, next)),
  );
}

async function timeSeriesSections(m, signal) {
  const plotBox = h("div", { class: "plot", id: "plot-timeseries" });
  const info = h("p", { class: "plot-info" });
  const reset = h("button", { type: "button", class: "small" }, "Reset zoom");
  const cyclesBox = h("div", { id: "plot-cycles" }, h("p", { class: "muted" }, "Loading…"));
  const dqdvBox = h("div", { class: "plot", id: "plot-dqdv" });
  const dqdvSelect = h("select", { name: "cycle", "aria-label": "Cycle for dQ/dV" });
  const stepsBox = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const exportButtons = [
    ["CSV", "csv"],
    ["Parquet", "parquet"],
    ["BDF CSV", "bdf.csv"],
  ].map(([label, format]) =>
    h("button", { type: "button", class: "small", onclick: () => download(`/cell_measurements/${m.id}/time_series/export`, { format }) }, label),
  );
  const sections = [
    section("Voltage and current", [reset, h("span", { class: "muted small-text" }, "Download:"), exportButtons], info, plotBox),
    section("Cycles", null, cyclesBox),
    section("dQ/dV", h("label", { class: "inline" }, "Cycle ", dqdvSelect), dqdvBox),
    section("Steps", null, stepsBox),
  ];

  const fail = (box, error) => {
    if (error.name !== "AbortError") replace(box, h("p", { class: "error" }, error.message));
  };
  // Drawn once the sections are in the page, so that the plots know their width.
  const draw = () => {
    timeSeriesPlot(plotBox, info, m.id, signal)
      .then((p) => reset.addEventListener("click", p.reset))
      .catch((error) => fail(plotBox, error));
    get(`/cell_measurements/${m.id}/steps_and_cycles`, undefined, signal)
      .then(({ steps, cycles }) => {
        cyclePlots(cyclesBox, cycles || {}, signal);
        replace(stepsBox, stepTable(steps || {}));
        const numbers = (cycles || {})["Cycle count"] || [];
        replace(dqdvSelect, numbers.map((n) => h("option", { value: n }, `Cycle ${n}`)));
        const showDqdv = () =>
          dqdvPlot(dqdvBox, m.id, dqdvSelect.value, signal).catch((error) => fail(dqdvBox, error));
        dqdvSelect.addEventListener("change", showDqdv);
        if (numbers.length) showDqdv();
        else replace(dqdvBox, h("p", { class: "muted" }, "No cycles."));
      })
      .catch((error) => {
        fail(cyclesBox, error);
        fail(stepsBox, error);
        fail(dqdvBox, error);
      });
  };
  return { sections, draw };
}

async function fileSection(m, signal) {
  const { filenames } = await get(`/cell_measurements/${m.id}/files`, undefined, signal);
  const items = filenames.map((name) => {
    const path = `/cell_measurements/${m.id}/files/${encodeURIComponent(name)}`;
    const figure = h("figure", { class: "file" });
    const caption = h(
      "figcaption",
      {},
      h("span", { class: "filename" }, name),
      h("button", { type: "button", class: "small", onclick: () => download(path) }, "Download"),
    );
    if (IMAGE.test(name)) {
      blob(path)
        .then((data) => {
          const src = URL.createObjectURL(data);
          signal.addEventListener("abort", () => URL.revokeObjectURL(src));
          figure.prepend(h("img", { src, alt: name, loading: "lazy" }));
        })
        .catch((error) => figure.prepend(h("p", { class: "error" }, error.message)));
    }
    figure.append(caption);
    return figure;
  });
  return section("Files", null, items.length ? h("div", { class: "files" }, items) : h("p", { class: "muted" }, "No files."));
}

function propertiesSection(m) {
  const rows = Object.entries(m.properties || {}).map(([key, value]) => {
    const quantity = value && typeof value === "object" && "value" in value;
    return h(
      "tr",
      {},
      h("th", {}, key.replaceAll("_", " ")),
      h("td", { class: "num" }, quantity ? fmtNumber(value.value, 6) : fmtValue(value)),
      h("td", {}, quantity ? value.unit || "" : ""),
    );
  });
  return section(
    "Properties",
    null,
    rows.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "properties" }, h("thead", {}, h("tr", {}, h("th", {}, "Property"), h("th", { class: "num" }, "Value"), h("th", {}, "Unit"))), h("tbody", {}, rows)))
      : h("p", { class: "muted" }, "No properties."),
  );
}

export async function measurementView(ctx) {
  const [id] = ctx.params;
  const { signal } = ctx;
  let m = await get(`/cell_measurements/${id}`, undefined, signal);
  rememberProject(m.project_id);
  const instance = await get(`/cell_instances/${m.cell_instance_id}`, undefined, signal);
  const [spec, project] = await Promise.all([
    get(`/cell_specifications/${instance.cell_specification_id}`, undefined, signal),
    get(`/projects/${m.project_id}`, undefined, signal),
  ]);

  const title = h("h1", { id: "measurement-name" }, m.name);
  const badge = h("span", { id: "status" }, statusBadge(m.processing_status));
  const statusNote = h("div", { id: "status-note" });
  const body = h("div", { id: "measurement-body" });
  const meta = h("div");
  const crumbRow = h("div");
  const renderCrumbs = () =>
    replace(
      crumbRow,
      crumbs([
        ["Projects", "#/projects"],
        [project.name, `#/projects/${project.id}`],
        [spec.name, `#/specs/${spec.id}`],
        [instance.name, `#/instances/${instance.id}`],
        [m.name],
      ]),
    );
  const update = (fresh) => {
    m = { ...m, ...fresh };
    title.textContent = m.name;
    replace(badge, statusBadge(m.processing_status));
    replace(meta, metadataSection(m, instance));
    renderCrumbs();
  };
  const edit = editForm(m, update);
  const remove = async () => {
    if (!(await confirmAction(`Delete the measurement “${m.name}” and its data? This cannot be undone.`))) return;
    try {
      await del(`/cell_measurements/${m.id}`);
      go(`#/instances/${instance.id}`);
    } catch (error) {
      showBanner(error.message);
    }
  };
  const actions = h(
    "div",
    { class: "actions" },
    h("button", { type: "button", onclick: () => { edit.hidden = !edit.hidden; } }, "Edit"),
    h("button", { type: "button", class: "danger", onclick: remove }, "Delete"),
  );
  update({});
  replace(
    ctx.main,
    crumbRow,
    h(
      "div",
      { class: "card measurement-head" },
      h("div", { class: "page-head" }, h("div", { class: "title-row" }, title, badge), actions),
      edit,
      tagEditor(m, update),
      statusNote,
    ),
    body,
    meta,
  );

  const showData = async () => {
    if (m.processing_error) {
      replace(
        statusNote,
        h(
          "div",
          { class: `callout ${m.processing_status === "failed" ? "error" : "warning"}`, role: "alert" },
          h("strong", {}, m.processing_status === "failed" ? "Processing failed: " : "The last extension failed: "),
          m.processing_error,
        ),
      );
    } else {
      replace(statusNote);
    }
    if (m.measurement_type === "file") replace(body, await fileSection(m, signal));
    else if (m.measurement_type === "properties") replace(body, propertiesSection(m));
    else if (m.processing_status === "failed") replace(body);
    else {
      const { sections, draw } = await timeSeriesSections(m, signal);
      replace(body, sections);
      draw();
    }
  };

  const status = m.processing_status;
  if (status && status !== "ready" && status !== "failed") {
    replace(
      statusNote,
      h("div", { class: "callout info", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Processing: this page updates by itself."),
    );
    // Polling runs on after this view has rendered; it stops when the person leaves the page.
    waitForProcessing(m.id, update, signal)
      .then(showData)
      .catch((error) => {
        if (error.name !== "AbortError") replace(statusNote, h("p", { class: "error" }, error.message));
      });
  } else {
    await showData();
  }
}
