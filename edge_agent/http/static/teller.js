// The teller page: plain JavaScript over the agent's JSON API, no build step, no network
// beyond this device. Every recording carries an Idempotency-Key made when the form is
// first sent and kept until the agent answers, so a retry after a lost answer records once.
"use strict";

const PENOLAKAN = {
  insufficient_balance: "Saldo tidak cukup",
  unknown_account: "Rekening tidak dikenal di perangkat ini",
  duplicate_account: "Nomor rekening sudah dipakai",
  unknown_transaction: "Transaksi yang dibatalkan tidak ditemukan",
  already_reversed: "Transaksi ini sudah dibatalkan",
  duplicate_member: "ID anggota sudah dipakai",
  duplicate_nik: "NIK sudah terdaftar sebagai anggota lain",
  unknown_member: "Anggota tidak dikenal di perangkat ini",
  member_resigned: "Anggota sudah keluar",
  member_missing: "Kredit anggota perlu nomor anggota",
  credit_overpaid: "Pembayaran melebihi kredit anggota yang terutang",
  pokok_exists: "Anggota sudah punya rekening simpanan pokok",
  pokok_paid: "Simpanan pokok sudah dibayar",
  pokok_locked: "Simpanan pokok hanya diambil setelah anggota keluar",
  price_mismatch: "Harga berbeda dari harga yang ditetapkan",
  unknown_loan: "Pinjaman tidak dikenal",
  negative_stock: "Stok tidak cukup",
  payment_mismatch: "Jumlah bayar tidak sama dengan total belanja",
  duplicate_sale: "Nomor penjualan sudah dipakai",
  card_blocked: "Kartu KHBS diblokir",
  unknown_entitlement: "Hak bantuan tidak dikenal (lakukan sinkronisasi)",
  wrong_card: "Hak bantuan ini milik kartu lain",
  already_redeemed: "Bantuan ini sudah diambil",
  wrong_value: "Nilai bantuan tidak sesuai",
  no_allowance: "Perangkat ini tidak punya jatah untuk bantuan ini",
  allowance_exhausted: "Jatah penyaluran sudah habis",
  invalid_field: "Isian tidak benar",
  invalid_id: "Nomor atau ID tidak benar",
  not_found: "Tidak ditemukan",
  store_full: "Penyimpanan penuh: tidak ada yang dicatat",
  store_unavailable: "Penyimpanan sibuk, coba lagi",
  unauthorized: "Token akses diperlukan",
};

const $ = (sel) => document.querySelector(sel);

function rupiah(n) {
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return `${sign}Rp${digits}`;
}

function angka(text) {
  // "50.000" or "Rp50.000" → 50000; money is whole rupiah
  const digits = String(text).replace(/[^\d-]/g, "");
  return digits === "" ? NaN : parseInt(digits, 10);
}

function waktu(ms) {
  return ms ? new Date(ms).toLocaleString("id-ID") : "belum pernah";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function kunci() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// --- talking to the agent ---------------------------------------------------------------

async function api(method, path, body, key) {
  const headers = {};
  const token = sessionStorage.getItem("kopsync-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) $("#token").hidden = false;
  return { ok: resp.ok, status: resp.status, body: data };
}

function tampil(teks, jenis) {
  const box = $("#pesan");
  box.hidden = false;
  box.className = jenis;
  box.textContent = teks;
}

function tolak(problem) {
  const kata = PENOLAKAN[problem.code] || "Ditolak";
  const kolom = problem.field ? ` (isian: ${problem.field})` : "";
  tampil(`Ditolak: ${kata}${kolom}. ${problem.detail || ""}`, "ditolak");
}

// A recording: its key (per form, or per entitlement) is kept until the agent answers, so
// sending again after a lost answer is the same request and records nothing twice.
const tertunda = new Map();

async function catat(form, path, body, nama = form.id) {
  if (!tertunda.has(nama)) tertunda.set(nama, kunci());
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const res = await api("POST", path, body, tertunda.get(nama));
    tertunda.delete(nama);
    if (!res.ok) tolak(res.body);
    return res;
  } catch (err) {
    tampil(`Tidak tersambung ke perangkat; kirim lagi (tidak akan tercatat dua kali). ${err}`, "ditolak");
    return { ok: false, status: 0, body: {} };
  } finally {
    if (button) button.disabled = false;
  }
}

function isian(form) {
  const out = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    const v = input.value.trim();
    if (v === "") continue;
    if (input.hasAttribute("data-rupiah")) out[input.name] = angka(v);
    else if (input.type === "number") out[input.name] = parseInt(v, 10);
    else out[input.name] = v;
  }
  return out;
}

// --- tabs -------------------------------------------------------------------------------

function bukaTab(nama) {
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("aktif", b.dataset.tab === nama);
  }
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${nama}`;
  if (nama === "penjualan") muatStok();
  if (nama === "bantuan") muatJatah();
  if (nama === "sinkron") muatSinkron();
}

// --- members ----------------------------------------------------------------------------

async function tampilAnggota(m) {
  const box = $("#hasil-anggota");
  box.replaceChildren(
    el("p", { class: "kartu-anggota" },
      el("strong", { id: "anggota-nama" }, m.profile.name), " — ",
      el("span", { id: "anggota-id" }, m.member_id), " — ",
      el("span", { id: "anggota-status" }, m.status)),
  );
  const st = await api("GET", `/v1/members/${encodeURIComponent(m.member_id)}/statement`);
  if (!st.ok) return;
  const list = el("ul", { id: "anggota-simpanan" });
  for (const [produk, g] of Object.entries(st.body.savings)) {
    for (const a of g.accounts) {
      list.append(el("li", {}, `${produk} ${a.account_id}: `, el("b", {}, rupiah(a.balance))));
    }
  }
  for (const l of st.body.loans) {
    const telat = l.arrears.days > 0 ? `, tunggakan ${l.arrears.days} hari (${rupiah(l.arrears.principal + l.arrears.interest)})` : "";
    list.append(el("li", { class: "pinjaman" }, `Pinjaman ${l.loan_id} (${l.state}): dicairkan ${rupiah(l.disbursed)}, sisa pokok ${rupiah(l.outstanding_principal)}${telat}`));
  }
  const kredit = st.body.member_credit;
  if (kredit && (kredit.sold || kredit.repaid)) {
    list.append(el("li", { class: "kredit" }, "Kredit anggota: terutang ",
      el("b", { id: "anggota-kredit" }, rupiah(kredit.owed)),
      ` (dibeli ${rupiah(kredit.sold)}, dibayar ${rupiah(kredit.repaid)})`));
  }
  box.append(el("p", {}, "Total simpanan: ", el("b", { id: "anggota-total" }, rupiah(st.body.savings_total))), list);
  $("#form-buka [name=member_id]").value = m.member_id;
  $("#form-kredit [name=member_id]").value = m.member_id;
}

async function bayarKredit(ev) {
  ev.preventDefault();
  const form = ev.target;
  const { member_id: id, ...body } = isian(form);
  if (!Number.isInteger(body.amount) || body.amount <= 0) {
    return tampil("Jumlah harus rupiah bulat, misalnya 50.000.", "ditolak");
  }
  const res = await catat(form, form.dataset.post.replace("{member_id}", encodeURIComponent(id)), body);
  if (!res.ok) return;
  tampil(`Pembayaran kredit ${rupiah(body.amount)} tercatat.`, "ok");
  form.reset();
  const m = await api("GET", `/v1/members/${encodeURIComponent(id)}`);
  if (m.ok) await tampilAnggota(m.body);
}

async function cari(ev) {
  ev.preventDefault();
  const nik = $("#cari-nik").value.trim();
  const res = await api("GET", `/v1/members?nik=${encodeURIComponent(nik)}`);
  if (res.ok) {
    $("#pesan").hidden = true;
    await tampilAnggota(res.body);
  } else if (res.status === 404) {
    $("#hasil-anggota").replaceChildren(el("p", { id: "anggota-kosong" }, "Belum terdaftar di perangkat ini."));
    $("#form-daftar [name=nik]").value = nik;
  } else {
    tolak(res.body);
  }
}

async function daftar(ev) {
  ev.preventDefault();
  const form = ev.target;
  const res = await catat(form, "/v1/members", isian(form));
  if (!res.ok) return;
  tampil(`Anggota terdaftar: ${res.body.member_id}`, "ok");
  const m = await api("GET", `/v1/members/${res.body.member_id}`);
  if (m.ok) await tampilAnggota(m.body);
  form.reset();
}

async function bukaRekening(ev) {
  ev.preventDefault();
  const form = ev.target;
  const res = await catat(form, "/v1/savings", isian(form));
  if (!res.ok) return;
  tampil(`Rekening dibuka: ${res.body.account_id}`, "ok");
  $("#rekening-id").value = res.body.account_id;
}

// --- savings ----------------------------------------------------------------------------

async function tampilRekening(id) {
  const res = await api("GET", `/v1/savings/${encodeURIComponent(id)}`);
  const box = $("#hasil-rekening");
  if (!res.ok) {
    box.replaceChildren();
    tolak(res.body);
    return;
  }
  const a = res.body;
  const rows = a.history.map((h) =>
    el("tr", {},
      el("td", {}, waktu(h.recorded_at_ms)),
      el("td", {}, { SavingsDeposited: "Setor", SavingsWithdrawn: "Tarik", SavingsTransactionReversed: "Koreksi", SavingsAccountOpened: "Buka" }[h.type] || h.type),
      el("td", {}, h.amount === undefined ? "" : rupiah(h.amount)),
      el("td", {}, rupiah(h.balance_after))));
  box.replaceChildren(
    el("p", {}, `${a.product} — anggota ${a.member_id}. Saldo: `, el("b", { id: "saldo" }, rupiah(a.balance))),
    el("table", { id: "buku" },
      el("thead", {}, el("tr", {}, el("th", {}, "Waktu"), el("th", {}, "Jenis"), el("th", {}, "Jumlah"), el("th", {}, "Saldo"))),
      el("tbody", {}, ...rows)));
}

async function gerakSimpanan(ev) {
  ev.preventDefault();
  const form = ev.target;
  const id = $("#rekening-id").value.trim();
  if (!id) return tampil("Isi nomor rekening dulu.", "ditolak");
  const body = isian(form);
  if (!Number.isInteger(body.amount) || body.amount <= 0) {
    return tampil("Jumlah harus rupiah bulat, misalnya 50.000.", "ditolak");
  }
  const res = await catat(form, form.dataset.post.replace("{account_id}", encodeURIComponent(id)), body);
  if (res.ok) {
    tampil(`${form.id === "form-setor" ? "Setoran" : "Penarikan"} ${rupiah(body.amount)} tercatat.`, "ok");
    form.reset();
  }
  await tampilRekening(id);
}

// --- sales ------------------------------------------------------------------------------

let stok = [];
const keranjang = [];

async function muatStok() {
  const [s, p] = await Promise.all([api("GET", "/v1/stock"), api("GET", "/v1/prices")]);
  if (!s.ok || !p.ok) return;
  stok = s.body.items;
  const harga = Object.fromEntries(p.body.items.map((x) => [x.sku, x.unit_price]));
  $("#tabel-stok tbody").replaceChildren(...stok.map((r) =>
    el("tr", { "data-sku": r.sku, "data-lokasi": r.location },
      el("td", {}, r.sku), el("td", {}, r.location), el("td", {}, r.on_hand),
      el("td", {}, r.unit_price == null ? "—" : rupiah(r.unit_price)))));
  const skus = new Set([...stok.map((r) => r.sku), ...Object.keys(harga)]);
  $("#daftar-sku").replaceChildren(...[...skus].map((s) => el("option", { value: s })));
  window.hargaBarang = harga;
  gambarKeranjang();
}

function adaDi(sku) {
  const row = stok.find((r) => r.sku === sku && r.location === "main");
  return row ? row.on_hand : 0;
}

function gambarKeranjang() {
  let total = 0;
  const rows = keranjang.map((b, i) => {
    const sub = b.qty * b.unit_price;
    total += sub;
    const ada = adaDi(b.sku);
    const cukup = ada >= keranjang.filter((x) => x.sku === b.sku).reduce((n, x) => n + x.qty, 0);
    return el("tr", {},
      el("td", {}, b.sku), el("td", {}, b.qty), el("td", {}, rupiah(b.unit_price)),
      el("td", {}, rupiah(sub)),
      el("td", { class: cukup ? "cukup" : "kurang" }, cukup ? "cukup" : `kurang (ada ${ada})`),
      el("td", {}, el("button", { type: "button", onclick: () => { keranjang.splice(i, 1); gambarKeranjang(); } }, "Hapus")));
  });
  $("#keranjang tbody").replaceChildren(...rows);
  $("#total").textContent = rupiah(total);
  return total;
}

function tambahBaris(ev) {
  ev.preventDefault();
  const sku = $("#baris-sku").value.trim();
  const qty = parseInt($("#baris-qty").value, 10);
  const price = (window.hargaBarang || {})[sku];
  if (price == null) return tampil(`Harga ${sku} belum ditetapkan di perangkat ini.`, "ditolak");
  keranjang.push({ sku, qty, unit_price: price });
  gambarKeranjang();
  ev.target.reset();
}

async function jual(ev) {
  ev.preventDefault();
  const form = ev.target;
  if (keranjang.length === 0) return tampil("Keranjang masih kosong.", "ditolak");
  const total = gambarKeranjang();
  const extra = isian(form);
  const body = {
    lines: keranjang.map((b) => ({ ...b })),
    payments: [{ method: extra.method, amount: total }],
  };
  if (extra.member_id) body.member_id = extra.member_id;
  if (extra.card_uid) body.card_uid = extra.card_uid;
  const res = await catat(form, "/v1/sales", body);
  if (res.ok) {
    tampil(`Penjualan ${res.body.sale_id} tercatat: ${rupiah(total)}.`, "ok");
    keranjang.length = 0;
  }
  await muatStok();
}

// --- aid --------------------------------------------------------------------------------

let jatah = [];

async function muatJatah() {
  const res = await api("GET", "/v1/aid/allowances");
  if (!res.ok) return;
  jatah = res.body.items;
  $("#tabel-jatah tbody").replaceChildren(...jatah.map((a) =>
    el("tr", { "data-jatah": a.allowance_id },
      el("td", {}, a.allowance_id), el("td", {}, a.program), el("td", {}, a.cycle),
      el("td", { class: "sisa-kali" }, a.count_left), el("td", { class: "sisa-nilai" }, rupiah(a.value_left)))));
}

async function periksaKartu(ev) {
  ev?.preventDefault();
  const uid = $("#kartu-uid").value.trim();
  const res = await api("GET", `/v1/aid/cards/${encodeURIComponent(uid)}`);
  const box = $("#hasil-kartu");
  if (!res.ok) {
    box.replaceChildren(el("p", { id: "kartu-kosong" }, "Kartu tidak dikenal di perangkat ini."));
    return;
  }
  const k = res.body;
  const status = k.blocked ? `Diblokir (${k.reason})` : "Aktif";
  const rows = k.entitlements.map((e) =>
    el("tr", { "data-hak": e.entitlement_id },
      el("td", {}, e.entitlement_id), el("td", {}, `${e.program} ${e.cycle}`),
      el("td", {}, e.value == null ? "barang" : rupiah(e.value)),
      el("td", {}, e.status === "AVAILABLE" ? "Tersedia" : "Sudah diambil"),
      el("td", {}, el("button", { type: "button", class: "ambil", onclick: () => ambil(k.card_uid, e) }, "Ambil"))));
  box.replaceChildren(
    el("p", { "data-kartu": k.card_uid }, "Status kartu: ", el("b", { id: "kartu-status" }, status),
      ". Sisa nilai: ", el("b", { id: "kartu-sisa" }, rupiah(k.available_value))),
    el("table", { id: "tabel-hak" }, el("tbody", {}, ...rows)));
}

async function ambil(card_uid, e) {
  await muatJatah();
  const cocok = jatah.find((a) => a.program === e.program && a.cycle === e.cycle && a.count_left > 0) ||
    jatah.find((a) => a.program === e.program && a.cycle === e.cycle) || jatah[0];
  const body = { card_uid, allowance_id: cocok ? cocok.allowance_id : "-", value: e.value ?? 0 };
  const path = `/v1/aid/entitlements/${encodeURIComponent(e.entitlement_id)}/redemption`;
  const res = await catat($("#form-kartu"), path, body, `ambil:${e.entitlement_id}`);
  if (res.ok) tampil(`Bantuan ${e.entitlement_id} diserahkan: ${rupiah(body.value)}.`, "ok");
  await periksaKartu();
  await muatJatah();
}

// --- sync -------------------------------------------------------------------------------

async function muatSinkron() {
  const res = await api("GET", "/v1/sync/status");
  if (!res.ok) return tolak(res.body);
  const s = res.body;
  const rows = [
    ["Perangkat", s.device_id, "s-perangkat"],
    ["Koperasi", s.coop_id, "s-koperasi"],
    ["Kejadian tercatat", s.last_seq, "s-terakhir"],
    ["Sudah diterima pusat", s.confirmed_seq, "s-konfirmasi"],
    ["Menunggu dikirim", s.pending, "s-menunggu"],
    ["Kontak terakhir dengan pusat", waktu(s.last_contact), "s-kontak"],
    ["Perangkat saudara", s.siblings.length ? s.siblings.map((x) => `${x.device_id}: ${x.applied_seq ?? "?"}`).join(", ") : "tidak ada", "s-saudara"],
  ];
  $("#status-sinkron").replaceChildren(...rows.flatMap(([k, v, id]) => [el("dt", {}, k), el("dd", { id }, v)]));
}

// --- wiring -----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => bukaTab(b.dataset.tab));
  $("#form-cari").addEventListener("submit", cari);
  $("#form-daftar").addEventListener("submit", daftar);
  $("#form-buka").addEventListener("submit", bukaRekening);
  $("#form-kredit").addEventListener("submit", bayarKredit);
  $("#form-rekening").addEventListener("submit", (ev) => { ev.preventDefault(); tampilRekening($("#rekening-id").value.trim()); });
  $("#form-setor").addEventListener("submit", gerakSimpanan);
  $("#form-tarik").addEventListener("submit", gerakSimpanan);
  $("#form-baris").addEventListener("submit", tambahBaris);
  $("#form-jual").addEventListener("submit", jual);
  $("#form-kartu").addEventListener("submit", periksaKartu);
  $("#muat-sinkron").addEventListener("click", muatSinkron);
  $("#form-token").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("kopsync-token", $("#token-isi").value.trim());
    $("#token").hidden = true;
    location.reload();
  });
  const s = await api("GET", "/v1/sync/status");
  if (s.ok) $("#perangkat").textContent = `Perangkat ${s.body.device_id}, koperasi ${s.body.coop_id}`;
  document.body.dataset.siap = "1";
});
