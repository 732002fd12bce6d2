// Part 3 placeholder, replaced below when the nspawn comparison is in place.
export async function cliBench() {
  return { note: "not measured", rows: [] };
}
