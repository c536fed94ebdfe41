// Upload a raw cycler file, or a CSV/parquet time series, to a chosen cell: progress of the
// transfer, then the processing status until the measurement is ready or failed.

import { get } from "../api.js";
import { basename, fmtBytes, h, replace, statusBadge } from "../dom.js";
import { instanceForm, specForm, toggle } from "../forms.js";
import { uploadFile, waitForProcessing } from "../upload.js";
import { crumbs, currentProject, formError, rememberProject, section } from "../ui.js";

const STAGES = {
  initiate: "Preparing the upload…",
  transfer: "Uploading the file…",
  confirm: "Storing the file…",
  convert: "Reading the file…",
};

function field(label, input, extra) {
  return h("label", { class: "field" }, h("span", {}, label), input, extra);
}

export async function uploadView(ctx) {
  const { signal } = ctx;
  let preset = { project: ctx.query.project || currentProject(), spec: null, instance: ctx.query.instance };
  if (preset.instance) {
    const instance = await get(`/cell_instances/${preset.instance}`, undefined, signal);
    preset = { project: instance.project_id, spec: instance.cell_specification_id, instance: instance.id };
  }
  const projects = (await get("/projects", { limit: 1000, order_by: "name", order: "asc" }, signal)).items || [];
  if (!projects.length) {
    replace(ctx.main, h("p", { class: "muted" }, "You have no project to upload to."));
    return;
  }

  const projectSelect = h("select", { name: "project", id: "upload-project" });
  const specSelect = h("select", { name: "spec", id: "upload-spec" });
  const instanceSelect = h("select", { name: "instance", id: "upload-instance" });
  const specSlot = h("div");
  const instanceSlot = h("div");
  const newSpecButton = h("span");
  const newInstanceButton = h("span");
  const file = h("input", { type: "file", name: "file", id: "upload-file", required: true });
  const name = h("input", { name: "name", id: "upload-name", required: true, maxlength: 255 });
  // Most cyclers write their computer's local time without a zone; the lab PC is usually in it.
  const localZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zone = h(
    "select",
    { name: "timezone", id: "upload-timezone" },
    h("option", { value: "" }, "UTC"),
    localZone && localZone !== "UTC" ? h("option", { value: localZone }, `${localZone} (this computer)`) : null,
  );
  const submit = h("button", { type: "submit", class: "primary", id: "upload-submit" }, "Upload");
  const error = formError();
  const progress = h("progress", { id: "upload-progress", max: 100, value: 0 });
  const progressText = h("span", { id: "upload-progress-text" });
  const stage = h("p", { id: "upload-stage", "aria-live": "polite" });
  const result = h("div", { id: "upload-result" });
  const progressBox = h("div", { class: "progress-box" }, stage, h("div", { class: "progress-row" }, progress, progressText), result);
  progressBox.hidden = true;

  const options = (items, empty) =>
    items.length ? items.map((item) => h("option", { value: item.id }, item.name)) : [h("option", { value: "" }, empty)];

  async function loadInstances(selected) {
    const specId = specSelect.value;
    replace(newInstanceButton);
    replace(instanceSlot);
    if (!specId) {
      replace(instanceSelect, h("option", { value: "" }, "Choose a specification first"));
      return;
    }
    const page = await get(`/cell_specifications/${specId}/cell_instances`, { limit: 1000, order_by: "name", order: "asc" }, signal);
    replace(instanceSelect, options(page.items || [], "No cells yet: create one"));
    if (selected) instanceSelect.value = selected;
    const batches = (await get(`/cell_specifications/${specId}/cell_batches`, { limit: 1000 }, signal)).items || [];
    const form = instanceForm(specId, batches, (instance) => {
      form.hidden = true;
      loadInstances(instance.id);
    });
    replace(instanceSlot, form);
    replace(newInstanceButton, toggle("New cell", form));
  }
  async function loadSpecs(selected, selectedInstance) {
    const projectId = projectSelect.value;
    rememberProject(projectId);
    const page = await get("/cell_specifications", { project_id: projectId, limit: 1000, order_by: "name", order: "asc" }, signal);
    replace(specSelect, options(page.items || [], "No specifications yet: create one"));
    if (selected) specSelect.value = selected;
    const form = specForm(projectId, (spec) => {
      form.hidden = true;
      loadSpecs(spec.id);
    });
    replace(specSlot, form);
    replace(newSpecButton, toggle("New specification", form));
    await loadInstances(selectedInstance);
  }

  replace(projectSelect, options(projects, ""));
  if (preset.project && projects.some((p) => p.id === preset.project)) projectSelect.value = preset.project;
  projectSelect.addEventListener("change", () => loadSpecs());
  specSelect.addEventListener("change", () => loadInstances());
  file.addEventListener("change", () => {
    const chosen = file.files[0];
    if (chosen && !name.dataset.edited) name.value = basename(chosen.name);
  });
  name.addEventListener("input", () => {
    name.dataset.edited = "1";
  });

  const form = h(
    "form",
    { class: "upload-form", id: "upload-form" },
    h(
      "div",
      { class: "fields" },
      field("Project", projectSelect),
      field("Cell specification", specSelect, newSpecButton),
      field("Cell", instanceSelect, newInstanceButton),
    ),
    specSlot,
    instanceSlot,
    h(
      "div",
      { class: "fields" },
      field("File", file),
      field("Measurement name", name),
      field("Instrument clock", zone),
    ),
    h(
      "p",
      { class: "muted" },
      "Any cycler file cellstore reads (Arbin, BioLogic, Maccor, Neware, BaSyTec, Novonix, PEC, LAND, ",
      "Indigo, BDF, …) or a CSV or parquet time series with the columns Time [s], Voltage [V], ",
      "Current [A] and Step count. Instrument clock: the zone of the times a file writes without one ",
      "(most cyclers write their computer's local time).",
    ),
    error.el,
    h("div", { class: "actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.show("");
    const chosen = file.files[0];
    if (!instanceSelect.value) {
      error.show("Choose the cell this file measured (or create one).");
      return;
    }
    if (!chosen) {
      error.show("Choose a file to upload.");
      return;
    }
    submit.disabled = true;
    progressBox.hidden = false;
    progress.value = 0;
    replace(result);
    replace(progressText, "");
    try {
      const measurement = await uploadFile({
        projectId: projectSelect.value,
        instanceId: instanceSelect.value,
        file: chosen,
        name: name.value.trim() || basename(chosen.name),
        timezone: zone.value,
        signal,
        onStage: (key) => replace(stage, STAGES[key]),
        onProgress: (loaded, total) => {
          const percent = total ? Math.round((100 * loaded) / total) : 100;
          progress.value = percent;
          replace(progressText, `${fmtBytes(loaded)} of ${fmtBytes(total)} (${percent} %)`);
        },
      });
      replace(stage, "Processing the measurement…");
      const link = h("a", { href: `#/measurements/${measurement.id}`, id: "upload-open" }, `Open “${measurement.name}”`);
      const badge = h("span", { id: "upload-status" }, statusBadge(measurement.processing_status));
      replace(result, h("p", {}, "Status: ", badge, " ", link));
      const settled = await waitForProcessing(measurement.id, (m) => replace(badge, statusBadge(m.processing_status)), signal);
      if (settled.processing_status === "failed") {
        replace(stage, "The file was stored, but processing failed.");
        result.append(h("p", { class: "error", role: "alert" }, settled.processing_error || "Processing failed."));
      } else {
        replace(stage, "Done: the measurement is ready.");
      }
      file.value = "";
      delete name.dataset.edited;
    } catch (failure) {
      if (failure.name === "AbortError") return;
      replace(stage, "The upload did not complete.");
      error.show(failure.message);
    } finally {
      submit.disabled = false;
    }
  });

  replace(
    ctx.main,
    crumbs([["Projects", "#/projects"], ["Upload"]]),
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Upload data"))),
    section("File and cell", null, form, progressBox),
  );
  await loadSpecs(preset.spec, preset.instance);
}
