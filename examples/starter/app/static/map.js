// The map: Leaflet (served from static/vendor, so it loads offline), the postcode and each
// row of the results table. OpenStreetMap's tiles need the network; the markers do not.
const el = document.getElementById('map')
if (el && window.L) {
  const map = L.map(el).setView([Number(el.dataset.lat), Number(el.dataset.lon)], 12)
  L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
    maxZoom: 19,
    attribution: '&copy; OpenStreetMap contributors'
  }).addTo(map)
  L.circleMarker([Number(el.dataset.lat), Number(el.dataset.lon)], { color: '#d4351c' }).addTo(map)
  for (const row of document.querySelectorAll('tr[data-lat]')) {
    L.marker([Number(row.dataset.lat), Number(row.dataset.lon)])
      .bindPopup(row.cells[0].textContent)
      .addTo(map)
  }
}
