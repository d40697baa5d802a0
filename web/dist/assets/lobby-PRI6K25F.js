import{a as m,b as e}from"./chunk-2ZBDMNEA.js";m(e("main",{children:e("h1",{children:"Croupier"})}),document.getElementById("app"));
