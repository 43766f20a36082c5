# figures of results/headline_table7, drawn by sakd collect from table.csv and layers.csv
set datafile missing 'nan'
set encoding utf8
set terminal svg dynamic noenhanced size 900,540
set output 'accuracy.svg'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [88:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'accuracy.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'accuracy.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'accuracy.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'accuracy.png'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [88:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'accuracy.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'accuracy.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'accuracy.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'firing.svg'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'firing.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'firing.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'firing.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'firing.png'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'firing.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'firing.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'firing.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'energy.svg'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'energy.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'energy.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'energy.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'energy.png'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.init_from_teacher"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "distill.gamma=0, distill.beta=0", 'energy.dat' using 4:5 title "distill.gamma=0, distill.beta=100", 'energy.dat' using 6:7 title "distill.gamma=1, distill.beta=0", 'energy.dat' using 8:9 title "distill.gamma=1, distill.beta=100"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 1100,540
set output 'firing_layers.svg'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.init_from_teacher=false, distill.gamma=0, distill.beta=0", 'firing_layers.dat' using 1:5:6 title "distill.init_from_teacher=false, distill.gamma=0, distill.beta=100", 'firing_layers.dat' using 1:7:8 title "distill.init_from_teacher=false, distill.gamma=1, distill.beta=0", 'firing_layers.dat' using 1:9:10 title "distill.init_from_teacher=false, distill.gamma=1, distill.beta=100", 'firing_layers.dat' using 1:11:12 title "distill.init_from_teacher=true, distill.gamma=0, distill.beta=0", 'firing_layers.dat' using 1:13:14 title "distill.init_from_teacher=true, distill.gamma=0, distill.beta=100", 'firing_layers.dat' using 1:15:16 title "distill.init_from_teacher=true, distill.gamma=1, distill.beta=0", 'firing_layers.dat' using 1:17:18 title "distill.init_from_teacher=true, distill.gamma=1, distill.beta=100"
set xtics norotate
set terminal pngcairo noenhanced size 1100,540
set output 'firing_layers.png'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.init_from_teacher=false, distill.gamma=0, distill.beta=0", 'firing_layers.dat' using 1:5:6 title "distill.init_from_teacher=false, distill.gamma=0, distill.beta=100", 'firing_layers.dat' using 1:7:8 title "distill.init_from_teacher=false, distill.gamma=1, distill.beta=0", 'firing_layers.dat' using 1:9:10 title "distill.init_from_teacher=false, distill.gamma=1, distill.beta=100", 'firing_layers.dat' using 1:11:12 title "distill.init_from_teacher=true, distill.gamma=0, distill.beta=0", 'firing_layers.dat' using 1:13:14 title "distill.init_from_teacher=true, distill.gamma=0, distill.beta=100", 'firing_layers.dat' using 1:15:16 title "distill.init_from_teacher=true, distill.gamma=1, distill.beta=0", 'firing_layers.dat' using 1:17:18 title "distill.init_from_teacher=true, distill.gamma=1, distill.beta=100"
set xtics norotate
