// The captive portal: packages, M-Pesa payment with live status, then login at the router. No build step.
// Query string from the Mikrotik login page: mac, link-login-only, dst, chap-id, chap-challenge.
"use strict";
(function () {
  const q = new URLSearchParams(location.search);
  const mac = q.get("mac") || "";
  const loginUrl = q.get("link-login-only") || "";
  const dst = q.get("dst") || q.get("link-orig") || "";
  const $ = (id) => document.getElementById(id);
  let chosen = null;

  function show(text, failed) {
    const s = $("status");
    s.hidden = false;
    s.textContent = text;
    s.className = failed ? "status failed" : "status";
  }

  // RouterOS gives chap-id / chap-challenge as octal escapes ("\\311\\123..."), as its own login.html uses them.
  function octal(text) {
    return text.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  }

  // MD5 (RFC 1321) over a binary string, for the router's CHAP login: password = MD5(chap-id + secret + challenge).
  function md5hex(str) {
    const k = [], s = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    for (let i = 0; i < 64; i++) k[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;
    const n = str.length, words = [];
    for (let i = 0; i < n; i++) words[i >> 2] |= (str.charCodeAt(i) & 255) << ((i % 4) * 8);
    words[n >> 2] |= 0x80 << ((n % 4) * 8);
    const total = (((n + 8) >> 6) + 1) * 16;
    for (let i = 0; i < total; i++) words[i] = words[i] | 0;
    words[total - 2] = n * 8;
    let a0 = 0x67452301, b0 = 0xefcdab89 | 0, c0 = 0x98badcfe | 0, d0 = 0x10325476;
    for (let j = 0; j < total; j += 16) {
      let a = a0, b = b0, c = c0, d = d0;
      for (let i = 0; i < 64; i++) {
        let f, g;
        if (i < 16) { f = (b & c) | (~b & d); g = i; }
        else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
        else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * i) % 16; }
        const t = d; d = c; c = b;
        const x = (a + f + k[i] + words[j + g]) | 0, r = s[(i >> 4) * 4 + (i % 4)];
        b = (b + ((x << r) | (x >>> (32 - r)))) | 0;
        a = t;
      }
      a0 = (a0 + a) | 0; b0 = (b0 + b) | 0; c0 = (c0 + c) | 0; d0 = (d0 + d) | 0;
    }
    let hex = "";
    for (const v of [a0, b0, c0, d0]) for (let i = 0; i < 4; i++) hex += ((v >>> (i * 8)) & 255).toString(16).padStart(2, "0");
    return hex;
  }

  let routerHosts = [];  // [portal] router_hosts: where a voucher may be posted (empty: any)

  function trustedRouter(url) {
    try {
      const u = new URL(url);
      return (u.protocol === "http:" || u.protocol === "https:") &&
        (routerHosts.length === 0 || routerHosts.includes(u.hostname));
    } catch (err) { return false; }
  }

  function login(voucher) {
    if (!loginUrl || !trustedRouter(loginUrl)) {
      show("Your voucher: " + voucher + ". Enter it on the Wi-Fi login page.", false);
      return;
    }
    const f = $("login");
    f.action = loginUrl;
    const chapId = q.get("chap-id"), challenge = q.get("chap-challenge");
    f.username.value = voucher;
    f.password.value = chapId && challenge ? md5hex(octal(chapId) + voucher + octal(challenge)) : voucher;
    f.dst.value = dst;
    f.submit();
  }

  function follow(id) {
    const events = new EventSource("/portal/api/payments/" + encodeURIComponent(id) + "/events");
    events.addEventListener("status", (e) => {
      const st = JSON.parse(e.data);
      show(st.message, st.final && st.status !== "applied");
      if (st.final) {
        events.close();
        if (st.status === "applied" && st.voucher) { window.portalVoucher = st.voucher; login(st.voucher); }
        else $("pay").disabled = false;
      }
    });
  }

  async function loadPackages() {
    const r = await fetch("/portal/api/packages");
    if (!r.ok) { show("The packages cannot be shown now; try again in a minute.", true); return; }
    const body = await r.json();
    routerHosts = body.router_hosts || [];
    const list = $("packages");
    for (const p of body.packages) {
      const li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.dataset.code = p.code;
      b.setAttribute("aria-pressed", "false");
      const price = document.createElement("span");
      price.className = "price";
      price.textContent = p.price_text;
      b.append(price, p.name);
      b.addEventListener("click", () => {
        for (const other of list.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
        b.setAttribute("aria-pressed", "true");
        chosen = p;
        $("chosen").textContent = p.name + " (" + p.price_text + ")";
        $("pay-form").hidden = !mac || !body.mpesa;
        $("phone").focus();
      });
      li.append(b);
      list.append(li);
    }
  }

  $("pay-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!chosen) return;
    $("pay").disabled = true;
    show("Sending the payment request to your phone...", false);
    try {
      const r = await fetch("/portal/api/pay", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ phone: $("phone").value, package: chosen.code, mac: mac }),
      });
      const body = await r.json();
      if (!r.ok) {
        const detail = body.detail || "";
        show(/mobile number/.test(detail) ? "Please enter a Safaricom number like 0712 345 678." :
             r.status === 429 ? "Too many attempts; wait a minute." : "M-Pesa is not reachable now; try again.", true);
        $("pay").disabled = false;
        return;
      }
      show(body.message, false);
      follow(body.id);
    } catch (err) {
      show("No connection to the portal; try again.", true);
      $("pay").disabled = false;
    }
  });

  $("voucher-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("voucher").value.trim();
    if (code) login(code);
  });

  if (!mac) $("no-device").hidden = false;
  loadPackages();
})();
