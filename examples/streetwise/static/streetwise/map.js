// Draw the area map with Leaflet. The page is complete without this: every marker
// is also listed on the page (hospitals in their list; collisions and crimes in
// "Everything on the map, as a list"). The district's boundary is drawn as a dashed line. Offline, tiles fail quietly and the markers
// still show on the plain background of .ck-map.
(function () {
  'use strict'
  var el = document.getElementById('sw-map')
  var dataEl = document.getElementById('sw-map-data')
  if (!el || !dataEl || !window.L) return
  var data = JSON.parse(dataEl.textContent)
  var fallback = el.querySelector('.sw-map__fallback')
  if (fallback) fallback.parentNode.removeChild(fallback)

  var lat = data.centre[0]
  var lon = data.centre[1]
  var dLat = data.radius_m / 111320
  var dLon = dLat / Math.cos(lat * Math.PI / 180)
  var map = L.map(el, { scrollWheelZoom: false })
  map.fitBounds([[lat - dLat, lon - dLon], [lat + dLat, lon + dLon]], { padding: [10, 10] })
  L.tileLayer('https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png', {
    subdomains: 'abc',
    maxZoom: 19,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
  }).addTo(map)

  if (data.outline) {
    L.geoJSON({ type: 'MultiPolygon', coordinates: data.outline }, {
      style: { color: '#505a5f', weight: 2, fill: false, dashArray: '6 4', className: 'sw-district-outline' },
      interactive: false
    }).addTo(map)
  }
  L.circle([lat, lon], { radius: data.radius_m, color: '#1d70b8', weight: 2, fill: false, interactive: false }).addTo(map)
  L.circleMarker([lat, lon], { radius: 6, color: '#0b0c0c', fillColor: '#ffdd00', fillOpacity: 1, weight: 2 })
    .bindTooltip(data.postcode).addTo(map)

  var severityColour = { fatal: '#6e1409', serious: '#d4351c', slight: '#f47738' }
  data.collisions.forEach(function (c) {
    L.circleMarker([c[0], c[1]], {
      radius: c[2] === 'slight' ? 3 : 5, color: severityColour[c[2]] || '#d4351c', weight: 1, fillOpacity: 0.7
    }).bindTooltip('Collision: ' + c[2]).addTo(map)
  })
  // one marker per police.uk map point, larger where more crimes were moved to it
  data.crimes.forEach(function (c) {
    L.circleMarker([c[0], c[1]], { radius: Math.min(3 + Math.sqrt(c[3]), 10), color: '#4c2c92', weight: 1, fillOpacity: 0.5 })
      .bindTooltip('Crimes (approximate place) ' + c[2]).addTo(map)
  })
  data.hospitals.forEach(function (h) {
    L.circleMarker([h[0], h[1]], { radius: 8, color: '#0b0c0c', fillColor: '#1d70b8', fillOpacity: 1, weight: 2 })
      .bindTooltip(h[2]).addTo(map)
  })
})()
