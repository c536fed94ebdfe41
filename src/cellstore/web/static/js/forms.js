// Forms that create a cell specification or a cell instance, used on browse pages and on upload.

import { post } from "./api.js";
import { h } from "./dom.js";
import { formError } from "./ui.js";

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

function quantity(value, unit) {
  const number = Number.parseFloat(value);
  return Number.isFinite(number) ? { value: number, unit } : undefined;
}

export function specForm(projectId, onCreated) {
  const name = h("input", { name: "name", required: true, maxlength: 255, placeholder: "NMC811 21700" });
  const formFactor = h("input", { name: "form_factor", placeholder: "21700" });
  const manufacturer = h("input", { name: "manufacturer" });
  const capacity = h("input", { name: "capacity", type: "number", step: "any", min: 0, placeholder: "5" });
  const vmin = h("input", { name: "voltage_min", type: "number", step: "any", placeholder: "2.5" });
  const vmax = h("input", { name: "voltage_max", type: "number", step: "any", placeholder: "4.2" });
  const error = formError();
  const button = h("button", { type: "submit", class: "primary" }, "Create specification");
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "New cell specification" },
    h(
      "div",
      { class: "fields" },
      field("Name", name),
      field("Form factor", formFactor),
      field("Manufacturer", manufacturer),
      field("Rated capacity [A.h]", capacity),
      field("Minimum voltage [V]", vmin),
      field("Maximum voltage [V]", vmax),
    ),
    error.el,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.show("");
    const ratings = Object.fromEntries(
      [
        ["capacity", quantity(capacity.value, "A.h")],
        ["voltage_min", quantity(vmin.value, "V")],
        ["voltage_max", quantity(vmax.value, "V")],
      ].filter(([, v]) => v),
    );
    const body = { name: name.value.trim(), project_id: projectId };
    if (formFactor.value.trim()) body.form_factor = formFactor.value.trim();
    if (manufacturer.value.trim()) body.manufacturer = manufacturer.value.trim();
    if (Object.keys(ratings).length) body.ratings = ratings;
    button.disabled = true;
    try {
      const spec = await post("/cell_specifications", body);
      form.reset();
      onCreated(spec);
    } catch (failure) {
      error.show(failure.message);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function instanceForm(specId, batches, onCreated) {
  const name = h("input", { name: "name", required: true, maxlength: 255, placeholder: "SN-0001" });
  const batch = h(
    "select",
    { name: "batch_id" },
    h("option", { value: "" }, "No batch"),
    (batches || []).map((b) => h("option", { value: b.id }, b.name)),
  );
  const error = formError();
  const button = h("button", { type: "submit", class: "primary" }, "Create cell");
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "New cell instance" },
    h("div", { class: "fields" }, field("Cell name", name), batches?.length ? field("Batch", batch) : null),
    error.el,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.show("");
    const body = { name: name.value.trim() };
    if (batch.value) body.batch_id = batch.value;
    button.disabled = true;
    try {
      const instance = await post(`/cell_specifications/${specId}/cell_instances`, body);
      form.reset();
      onCreated(instance);
    } catch (failure) {
      error.show(failure.message);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// A button that shows and hides a form below it.
export function toggle(label, form) {
  form.hidden = true;
  const button = h("button", { type: "button", "aria-expanded": "false" }, label);
  button.addEventListener("click", () => {
    form.hidden = !form.hidden;
    button.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) form.querySelector("input")?.focus();
  });
  return button;
}
